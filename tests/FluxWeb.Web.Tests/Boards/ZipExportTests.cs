using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Boards;
using FluxWeb.Application.Images;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.ApiKeys;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Images;
using FluxWeb.Host.Cli;
using FluxWeb.Host.Hosting;
using FluxWeb.Persistence.Administration;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using static FluxWeb.Web.Tests.Boards.SharingScenario;

namespace FluxWeb.Web.Tests.Boards;

/// <summary>
/// ZIP downloads over HTTP on the real app: originals byte for byte with their metadata, the licence at every image
/// (a Commercial member's ZIP never holds a non-commercial output, and says what it left out), isolation (a stranger,
/// a former member after the unshare, keys, an admin's key), the administrator's limit refused before streaming, audit.
/// </summary>
public sealed class ZipExportTests(SharingScenario scenario) : IClassFixture<SharingScenario>
{
    private sealed record Zip(Dictionary<string, byte[]> Files)
    {
        public IEnumerable<string> Images => Files.Keys.Where(k => k.EndsWith(".png", StringComparison.Ordinal));

        public byte[]? ImageOf(Guid id) => Files.FirstOrDefault(f => f.Key.EndsWith($"{id:N}.png", StringComparison.Ordinal)).Value;

        public JsonElement MetadataOf(Guid id) => JsonDocument.Parse(Files.Single(f => f.Key.EndsWith($"{id:N}.metadata.json", StringComparison.Ordinal)).Value).RootElement;

        public string? Skipped => Files.TryGetValue("skipped.txt", out var text) ? System.Text.Encoding.UTF8.GetString(text) : null;
    }

    private static async Task<HttpResponseMessage> PrepareAsync(HttpClient client, object body) =>
        await SendAsync(client, HttpMethod.Post, "/api/v1/exports", body);

    /// <summary>Prepares and fetches; answers the ZIP's files.</summary>
    private static async Task<(JsonElement Prepared, Zip Zip)> DownloadAsync(HttpClient client, object body)
    {
        var prepared = await PrepareAsync(client, body);
        Assert.True(prepared.StatusCode == HttpStatusCode.OK, $"POST /api/v1/exports: {(int)prepared.StatusCode} {await prepared.Content.ReadAsStringAsync()}");
        var answer = await prepared.Content.ReadFromJsonAsync<JsonElement>();
        var response = await client.GetAsync(answer.GetProperty("downloadUrl").GetString());
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET the ZIP: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("application/zip", response.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("attachment;", response.Content.Headers.ContentDisposition?.ToString() ?? "", StringComparison.Ordinal);
        return (answer, await ReadZipAsync(response));
    }

    private static async Task<Zip> ReadZipAsync(HttpResponseMessage response)
    {
        await using var body = new MemoryStream(await response.Content.ReadAsByteArrayAsync());
        await using var zip = new ZipArchive(body, ZipArchiveMode.Read);
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var entry in zip.Entries)
        {
            await using var stream = await entry.OpenAsync();
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            files[entry.FullName] = copy.ToArray();
        }

        return new Zip(files);
    }

    private async Task<byte[]> OriginalAsync(StoredImage image) =>
        await File.ReadAllBytesAsync(scenario.Factory.Service<ImageStore>().FullPath(image.RelativePath));

    [Fact]
    public async Task The_owners_zip_holds_each_original_byte_for_byte_with_its_metadata()
    {
        var first = await scenario.Rows.AddOutputAsync(scenario.AdaActor, "zip harbour at dawn", SharingScenario.T0, withFile: true,
            job: j => { j.ResolvedSteps = 28; j.Settings = j.Settings with { Guidance = 3.5f, NegativePrompt = "fog" }; });
        var second = await scenario.ApacheAsync(scenario.AdaActor, "zip harbour at dusk");

        var (prepared, zip) = await DownloadAsync(scenario.Ada.Http, new { imageIds = new[] { first.Id, second.Id } });

        Assert.Equal(2, prepared.GetProperty("images").GetInt32());
        Assert.Empty(prepared.GetProperty("skipped").EnumerateArray());
        Assert.Equal(2, zip.Images.Count());
        Assert.Equal(await OriginalAsync(first), zip.ImageOf(first.Id));
        Assert.Equal(await OriginalAsync(second), zip.ImageOf(second.Id));
        Assert.Equal((await OriginalAsync(first)).LongLength + (await OriginalAsync(second)).LongLength, prepared.GetProperty("bytes").GetInt64());
        var metadata = zip.MetadataOf(first.Id);
        Assert.Equal("zip harbour at dawn", metadata.GetProperty("prompt").GetString());
        Assert.Equal(first.ModelId, metadata.GetProperty("model").GetString());
        Assert.Equal(first.Seed!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), metadata.GetProperty("seed").GetString());
        Assert.Equal("Apache-2.0", metadata.GetProperty("licence").GetString());
        Assert.Equal("ada@example.com", metadata.GetProperty("owner").GetString());
        Assert.Equal(T0, metadata.GetProperty("created").GetDateTime().ToUniversalTime());
        // The rest of what it was made with, as the job ran it; nothing a text-to-image job does not have.
        var made = metadata.GetProperty("settings");
        Assert.Equal(("TextToImage", 28, 3.5f, "fog"), (made.GetProperty("mode").GetString(), made.GetProperty("steps").GetInt32(), made.GetProperty("guidance").GetSingle(), made.GetProperty("negativePrompt").GetString()));
        Assert.False(made.TryGetProperty("strength", out _));
        Assert.False(zip.MetadataOf(second.Id).GetProperty("settings").TryGetProperty("negativePrompt", out _));
        Assert.Null(zip.Skipped);
        Assert.True(await scenario.DbAsync(db => db.AuditEvents.AnyAsync(a => a.Action == AuditActions.DownloadZip && a.ActorId == scenario.AdaActor.UserId)));
    }

    [Fact]
    public async Task A_commercial_members_zip_of_a_team_board_never_holds_the_non_commercial_image_and_says_what_it_left_out()
    {
        var apache = await scenario.ApacheAsync(scenario.AdaActor, "zip team apache lighthouse");
        var nc = await scenario.NonCommercialAsync(scenario.AdaActor, "zip team nc-secret glass");
        var board = await scenario.BoardAsync("Zip picks", apache.Id, nc.Id);
        await scenario.ShareAsync($"boards/{board}", email: null);

        // All of the board, as "select all" sends it, and the two ids, as a selection sends them.
        var (byBoard, boardZip) = await DownloadAsync(scenario.Corp.Http, new { board });
        var (byIds, idsZip) = await DownloadAsync(scenario.Corp.Http, new { imageIds = new[] { apache.Id, nc.Id } });

        foreach (var (prepared, zip) in new[] { (byBoard, boardZip), (byIds, idsZip) })
        {
            Assert.Equal([$"{apache.CreatedUtc:yyyy-MM-dd_HHmmss}-{apache.Id:N}.png"], zip.Images);
            Assert.Equal(await OriginalAsync(apache), zip.ImageOf(apache.Id));
            Assert.Equal("ada@example.com", zip.MetadataOf(apache.Id).GetProperty("owner").GetString());
            Assert.Contains("non-commercial", zip.Skipped, StringComparison.OrdinalIgnoreCase);
            Assert.Single(prepared.GetProperty("skipped").EnumerateArray());
            foreach (var file in zip.Files.Values)
            {
                Assert.DoesNotContain("nc-secret", System.Text.Encoding.UTF8.GetString(file), StringComparison.Ordinal);
            }
        }

        // The listing's own leaving-out is counted, never named; an id the member sent is named with the reason.
        Assert.DoesNotContain(nc.Id.ToString(), boardZip.Skipped, StringComparison.OrdinalIgnoreCase);
        Assert.Contains($"{nc.Id}: not available to this account's licence", idsZip.Skipped, StringComparison.Ordinal);

        // Only the non-commercial one: nothing to download, and no ZIP.
        var refused = await PrepareAsync(scenario.Corp.Http, new { imageIds = new[] { nc.Id } });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("FLUX-Non-Commercial", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // A non-commercial teammate gets both; every shared image taken is audited with its owner.
        var (_, bobZip) = await DownloadAsync(scenario.Bob.Http, new { board });
        Assert.Equal(await OriginalAsync(nc), bobZip.ImageOf(nc.Id));
        Assert.True(await scenario.DbAsync(db => db.AuditEvents.AnyAsync(a => a.Action == AuditActions.Download && a.ImageId == apache.Id
            && a.ActorId == scenario.CorpActor.UserId && a.TargetUserId == scenario.AdaActor.UserId)));
        Assert.False(await scenario.DbAsync(db => db.AuditEvents.AnyAsync(a => a.Action == AuditActions.Download && a.ImageId == nc.Id && a.ActorId == scenario.CorpActor.UserId)));
    }

    [Fact]
    public async Task A_zips_licence_refusal_is_audited_once_and_a_refusal_new_at_the_download_is_audited_then()
    {
        var apache = await scenario.ApacheAsync(scenario.AdaActor, "zip audit apache harbour");
        var nc = await scenario.NonCommercialAsync(scenario.AdaActor, "zip audit nc harbour");
        var board = await scenario.BoardAsync("Zip audit", apache.Id, nc.Id);
        await scenario.ShareAsync($"boards/{board}", email: null);
        Task<int> RefusalsAsync(string userId) =>
            scenario.DbAsync(db => db.AuditEvents.CountAsync(a => a.Action == AuditActions.LicenceRefused && a.ImageId == nc.Id && a.ActorId == userId));

        // Refused when prepared; fetching that ZIP is the same attempt, so an auditor reads one refusal, not two.
        var (_, corpZip) = await DownloadAsync(scenario.Corp.Http, new { imageIds = new[] { apache.Id, nc.Id } });
        Assert.Null(corpZip.ImageOf(nc.Id));
        Assert.Equal(1, await RefusalsAsync(scenario.CorpActor.UserId));

        // A non-commercial teammate prepares both, then is switched to Commercial: the refusal is new at the download, and recorded there.
        var zoe = new SiteClient(scenario.Factory.CreateBrowserClient());
        await zoe.RegisterAsync("zoe-zip@example.com");
        var zoeId = await scenario.UserIdAsync("zoe-zip@example.com");
        await scenario.DbAsync(db => db.Users.Where(u => u.Id == zoeId).ExecuteUpdateAsync(set => set.SetProperty(u => u.AccountType, AccountType.NonCommercial)));
        var prepared = await PrepareAsync(zoe.Http, new { imageIds = new[] { apache.Id, nc.Id } });
        Assert.Equal(HttpStatusCode.OK, prepared.StatusCode);
        var answer = await prepared.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, answer.GetProperty("images").GetInt32());
        var switched = await scenario.Factory.Service<UserAdministration>().ChangeAsync(
            zoeId, new UserChange { AccountType = AccountType.Commercial, ConfirmOutputsUnavailable = true }, ChangeActor.CommandLine);
        Assert.True(switched.Succeeded, switched.Error);
        await zoe.LoginAsync("zoe-zip@example.com");

        var fetched = await zoe.Http.GetAsync(answer.GetProperty("downloadUrl").GetString());

        Assert.Equal(HttpStatusCode.OK, fetched.StatusCode);
        var zoeZip = await ReadZipAsync(fetched);
        Assert.NotNull(zoeZip.ImageOf(apache.Id));
        Assert.Null(zoeZip.ImageOf(nc.Id));
        Assert.Equal(1, await RefusalsAsync(zoeId));
    }

    [Fact]
    public async Task A_stranger_a_former_member_and_keys_get_nothing_that_was_not_shared_with_them_now()
    {
        var secret = await scenario.ApacheAsync(scenario.AdaActor, "zip for bob only");
        var share = await scenario.ShareAsync($"images/{secret.Id}", "bob@example.com");

        // A stranger: the id is one he may not see, like an unknown one.
        var eve = await PrepareAsync(scenario.Eve.Http, new { imageIds = new[] { secret.Id } });
        var unknown = await PrepareAsync(scenario.Eve.Http, new { imageIds = new[] { Guid.NewGuid() } });
        Assert.Equal((HttpStatusCode.BadRequest, HttpStatusCode.BadRequest), (eve.StatusCode, unknown.StatusCode));
        Assert.Contains("not found, or not shared with you", await eve.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.DoesNotContain("zip for bob only", await eve.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Bob prepares while it is shared; someone else's ticket answers 404 like an unknown one.
        var prepared = await (await PrepareAsync(scenario.Bob.Http, new { imageIds = new[] { secret.Id } })).Content.ReadFromJsonAsync<JsonElement>();
        var url = prepared.GetProperty("downloadUrl").GetString()!;
        var stolen = await scenario.Eve.Http.GetAsync(url);
        var madeUp = await scenario.Eve.Http.GetAsync($"/api/v1/exports/{Guid.NewGuid():N}");
        Assert.Equal((HttpStatusCode.NotFound, HttpStatusCode.NotFound), (stolen.StatusCode, madeUp.StatusCode));
        Assert.Equal(await madeUp.Content.ReadAsStringAsync() is var a ? StripTrace(a) : "", StripTrace(await stolen.Content.ReadAsStringAsync()));

        // Then Ada unshares: the same ticket no longer gives it out.
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(scenario.Ada.Http, HttpMethod.Delete, $"/api/v1/shares/{share}")).StatusCode);
        var after = await scenario.Bob.Http.GetAsync(url);
        Assert.Equal(HttpStatusCode.BadRequest, after.StatusCode);
        Assert.False(after.Content.Headers.ContentType?.MediaType == "application/zip");

        // A member's key downloads what is shared with him (an export, audited as one); an admin's key sees what a plain user would.
        var shared = await scenario.ApacheAsync(scenario.AdaActor, "zip shared with bob again");
        await scenario.ShareAsync($"images/{shared.Id}", "bob@example.com");
        using var bobKey = await scenario.KeyClientAsync(scenario.BobActor, ApiKeyScope.Read);
        var (_, keyZip) = await DownloadAsync(bobKey, new { imageIds = new[] { shared.Id, secret.Id } });
        Assert.Equal(await OriginalAsync(shared), keyZip.ImageOf(shared.Id));
        Assert.Null(keyZip.ImageOf(secret.Id));
        Assert.True(await scenario.DbAsync(db => db.AuditEvents.AnyAsync(a => a.Action == AuditActions.Export && a.ImageId == shared.Id && a.ActorId == scenario.BobActor.UserId)));
        using var adminKey = await scenario.KeyClientAsync(scenario.AdminActor, ApiKeyScope.Read);
        Assert.Equal(HttpStatusCode.BadRequest, (await PrepareAsync(adminKey, new { imageIds = new[] { secret.Id } })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await PrepareAsync(adminKey, new { source = "all" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await bobKey.GetAsync(url.Replace(url[^32..], $"{Guid.NewGuid():N}", StringComparison.Ordinal))).StatusCode);
    }

    [Fact]
    public async Task Over_the_administrators_limit_is_refused_before_anything_is_streamed_with_the_limit_and_the_bytes_asked()
    {
        var big = await scenario.ApacheAsync(scenario.AdaActor, "zip too big");
        var path = scenario.Factory.Service<ImageStore>().FullPath(big.RelativePath);
        // A file over 1 MiB (the smallest limit); a PNG's trailing bytes after IEND do not matter to this test.
        await using (var file = new FileStream(path, FileMode.Append))
        {
            await file.WriteAsync(new byte[ExportOptions.MinZipBytes + 10]);
        }

        var size = new FileInfo(path).Length;
        var export = scenario.Factory.Service<ZipExport>();
        Assert.NotNull(await export.SetLimitBytesAsync(10, ChangeActor.Ui(scenario.AdminActor.UserId)));
        await Assert.ThrowsAsync<FluxWeb.Application.Administration.AdminAccessDeniedException>(() => export.SetLimitBytesAsync(ExportOptions.MinZipBytes, ChangeActor.Ui(scenario.AdaActor.UserId)));
        Assert.Null(await export.SetLimitBytesAsync(ExportOptions.MinZipBytes, ChangeActor.Ui(scenario.AdminActor.UserId)));
        try
        {
            var response = await PrepareAsync(scenario.Ada.Http, new { imageIds = new[] { big.Id } });

            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(ExportOptions.MinZipBytes, problem.GetProperty("limitBytes").GetInt64());
            Assert.Equal(size, problem.GetProperty("bytes").GetInt64());
            Assert.Contains($"{size:N0} bytes", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.Contains($"{ExportOptions.MinZipBytes:N0} bytes", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.True(await scenario.DbAsync(db => db.AuditEvents.AnyAsync(a => a.Action == AuditActions.AdminChange && a.Detail!.Contains("ZIP download limit"))));
        }
        finally
        {
            await scenario.DbAsync(db => db.PolicySettings.Where(s => s.Key == PolicySetting.ZipLimitBytes).ExecuteDeleteAsync());
        }
    }

    /// <summary>
    /// Several web nodes behind one proxy, or one node restarted between the two requests: the GET of a prepared ZIP
    /// may reach another process than the POST did. The ticket is a row of the shared database, so that process
    /// streams it, and only to the account that prepared it.
    /// </summary>
    [Fact]
    public async Task A_zip_prepared_on_one_web_node_is_streamed_by_another_on_the_same_database_to_its_owner_only()
    {
        var image = await scenario.ApacheAsync(scenario.AdaActor, "zip across web nodes");
        var adaKey = await scenario.Factory.CreateKeyAsync(scenario.AdaActor.UserId, $"key {Guid.NewGuid():N}", ApiKeyScope.Read);
        var bobKey = await scenario.Factory.CreateKeyAsync(scenario.BobActor.UserId, $"key {Guid.NewGuid():N}", ApiKeyScope.Read);
        using var onFirstNode = scenario.Factory.KeyClient(adaKey);
        var prepared = await PrepareAsync(onFirstNode, new { imageIds = new[] { image.Id } });
        Assert.Equal(HttpStatusCode.OK, prepared.StatusCode);
        var url = (await prepared.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("downloadUrl").GetString()!;

        // A second process on the same data folder and database: it holds nothing of the first one's memory.
        using var otherNode = new FluxWebFactory()
            .With("FluxWeb:DataDirectory", scenario.Factory.DataDirectory)
            .With("FluxWeb:ModelsDirectory", scenario.Factory.ModelsDirectory);
        using var onOtherNode = otherNode.KeyClient(adaKey);
        var response = await onOtherNode.GetAsync(url);

        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET on the other node: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal(await OriginalAsync(image), (await ReadZipAsync(response)).ImageOf(image.Id));
        using var bobOnOtherNode = otherNode.KeyClient(bobKey);
        Assert.Equal(HttpStatusCode.NotFound, (await bobOnOtherNode.GetAsync(url)).StatusCode);
    }

    [Fact]
    public async Task A_ticket_ends_when_it_expires_and_an_account_keeps_at_most_twenty_pending()
    {
        var image = await scenario.ApacheAsync(scenario.AdaActor, "zip tickets come and go");
        async Task<(Guid Id, string Url)> PrepareTicketAsync()
        {
            var answer = await (await PrepareAsync(scenario.Ada.Http, new { imageIds = new[] { image.Id } })).Content.ReadFromJsonAsync<JsonElement>();
            var url = answer.GetProperty("downloadUrl").GetString()!;
            return (Guid.ParseExact(url[^32..], "N"), url);
        }

        Task<int> PendingAsync() => scenario.DbAsync(db => db.ExportTickets.CountAsync(t => t.UserId == scenario.AdaActor.UserId));

        // Expired: its link answers 404 like an unknown one, and the next preparation clears the row away.
        var expired = await PrepareTicketAsync();
        await scenario.DbAsync(db => db.ExportTickets.Where(t => t.Id == expired.Id).ExecuteUpdateAsync(t => t.SetProperty(r => r.ExpiresUtc, DateTime.UtcNow.AddSeconds(-1))));
        Assert.Equal(HttpStatusCode.NotFound, (await scenario.Ada.Http.GetAsync(expired.Url)).StatusCode);
        var first = await PrepareTicketAsync();
        Assert.False(await scenario.DbAsync(db => db.ExportTickets.AnyAsync(t => t.Id == expired.Id)));

        // A script preparing in a loop: the oldest pending downloads make room, the newest twenty stay valid.
        var later = new List<(Guid Id, string Url)>();
        for (var i = 0; i < 20; i++)
        {
            later.Add(await PrepareTicketAsync());
        }

        Assert.Equal(20, await PendingAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await scenario.Ada.Http.GetAsync(first.Url)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await scenario.Ada.Http.GetAsync(later[0].Url)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await scenario.Ada.Http.GetAsync(later[^1].Url)).StatusCode);
    }

    [Fact]
    public async Task A_limit_out_of_range_in_the_settings_stops_the_start()
    {
        using var folder = new TempFolder();
        var settings = new Dictionary<string, string?>
        {
            [FluxWebConfiguration.DataDirectoryKey] = folder.Combine("data"),
            [FluxWebConfiguration.ModelsDirectoryKey] = folder.Combine("models"),
            ["Export:MaxZipBytes"] = "1000",
        };

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => CliHost.StartAsync(settings, CancellationToken.None));

        Assert.Contains("Export:MaxZipBytes must be between", error.Message, StringComparison.Ordinal);
    }

    private static string StripTrace(string problem) => System.Text.RegularExpressions.Regex.Replace(problem, "\"traceId\":\"[^\"]*\"", "");
}
