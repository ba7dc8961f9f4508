using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Boards;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.ApiKeys;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Images;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using static FluxWeb.Web.Tests.Boards.SharingScenario;

namespace FluxWeb.Web.Tests.Boards;

/// <summary>
/// Boards and shares over HTTP on the real app: who sees what, through every door (feed, board, image, thumbnail,
/// reuse, detail page), for members, contributors, a stranger, a former member, keys, an admin's key, and
/// commercial accounts (which never receive a non-commercial output, shared or not).
/// </summary>
public sealed class SharingTests(SharingScenario scenario) : IClassFixture<SharingScenario>
{
    private static async Task<HttpStatusCode> StatusAsync(HttpClient client, string url) => (await client.GetAsync(url)).StatusCode;

    private static async Task AssertNotFoundLikeUnknownAsync(HttpClient client, HttpMethod method, string url, string unknownUrl, object? body = null)
    {
        var response = await SendAsync(client, method, url, body);
        var unknown = await SendAsync(client, method, unknownUrl, body);
        Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{method} {url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal(unknown.StatusCode, response.StatusCode);
        // The same problem, but for its trace id.
        static async Task<string> ProblemAsync(HttpResponseMessage r) =>
            System.Text.RegularExpressions.Regex.Replace(await r.Content.ReadAsStringAsync(), "\"traceId\":\"[^\"]*\"", "");
        Assert.Equal(await ProblemAsync(unknown), await ProblemAsync(response));
    }

    [Fact]
    public async Task A_board_shared_with_the_team_reaches_members_with_who_made_it_and_never_gives_a_commercial_member_the_non_commercial_image()
    {
        var apache = await scenario.ApacheAsync(scenario.AdaActor, "team apache harbour");
        var nc = await scenario.NonCommercialAsync(scenario.AdaActor, "team nc-only glass lighthouse");
        var board = await scenario.BoardAsync("Team picks", apache.Id, nc.Id);
        await scenario.ShareAsync($"boards/{board}", email: null);

        // A NonCommercial member sees both, with who made them, through every door.
        Assert.Contains(apache.Id, await FeedIdsAsync(scenario.Bob.Http));
        Assert.Contains(nc.Id, await FeedIdsAsync(scenario.Bob.Http));
        var feed = await scenario.Bob.Http.GetFromJsonAsync<JsonElement>("/api/v1/feed?search=nc-only%20glass");
        Assert.Equal("ada@example.com", feed.GetProperty("items")[0].GetProperty("ownerEmail").GetString());
        var boardPage = await scenario.Bob.Http.GetFromJsonAsync<JsonElement>($"/api/v1/boards/{board}");
        Assert.Equal([apache.Id, nc.Id], boardPage.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid()));
        Assert.Equal("Viewer", boardPage.GetProperty("board").GetProperty("myRole").GetString());
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(scenario.Bob.Http, $"/api/v1/images/{nc.Id}"));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(scenario.Bob.Http, $"/api/v1/images/{nc.Id}/thumbnail"));
        var detail = await scenario.Bob.Http.GetStringAsync($"/gallery/{nc.Id}");
        Assert.Contains("team nc-only glass lighthouse", detail, StringComparison.Ordinal);
        Assert.Contains(await scenario.Bob.Http.GetFromJsonAsync<JsonElement>("/api/v1/boards") is var boards ? boards.EnumerateArray().Select(b => b.GetProperty("id").GetGuid()) : [], id => id == board);

        // A Commercial member never receives the non-commercial one: not listed (counted once as hidden), not served, not reusable.
        Assert.Contains(apache.Id, await FeedIdsAsync(scenario.Corp.Http));
        var corpFeed = await scenario.Corp.Http.GetStringAsync("/api/v1/feed?pageSize=200");
        Assert.DoesNotContain(nc.Id.ToString(), corpFeed, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("nc-only", corpFeed, StringComparison.Ordinal);
        Assert.True((await scenario.Corp.Http.GetFromJsonAsync<JsonElement>("/api/v1/feed")).GetProperty("hiddenByLicence").GetInt32() >= 1);
        var corpBoard = await scenario.Corp.Http.GetFromJsonAsync<JsonElement>($"/api/v1/boards/{board}");
        Assert.Equal([apache.Id], corpBoard.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid()));
        Assert.Equal(1, corpBoard.GetProperty("hiddenByLicence").GetInt32());
        Assert.Equal(1, corpBoard.GetProperty("board").GetProperty("imageCount").GetInt32());
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(scenario.Corp.Http, $"/api/v1/images/{nc.Id}"));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(scenario.Corp.Http, $"/api/v1/images/{nc.Id}?download=true"));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(scenario.Corp.Http, $"/api/v1/images/{nc.Id}/thumbnail"));
        var corpUploads = await scenario.DbAsync(db => db.Images.CountAsync(i => i.OwnerId == scenario.CorpActor.UserId && i.Kind == StoredImageKind.Upload));
        var reuse = await SendAsync(scenario.Corp.Http, HttpMethod.Post, $"/api/v1/images/{nc.Id}/reuse");
        Assert.Equal(HttpStatusCode.Forbidden, reuse.StatusCode);
        Assert.Contains("FLUX-Non-Commercial", await reuse.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var corpDetail = await scenario.Corp.Http.GetStringAsync($"/gallery/{nc.Id}");
        Assert.DoesNotContain("nc-only", corpDetail, StringComparison.Ordinal);
        Assert.Equal(corpUploads, await scenario.DbAsync(db => db.Images.CountAsync(i => i.OwnerId == scenario.CorpActor.UserId && i.Kind == StoredImageKind.Upload)));

        Assert.True(await scenario.DbAsync(db => db.AuditEvents.AnyAsync(a => a.Action == AuditActions.Share && a.ActorId == scenario.AdaActor.UserId && a.Detail!.Contains("Team picks") && a.Detail.Contains("Everyone"))));

        // The pages say the same: the team feed and the board show who made it, and a commercial member a note instead.
        var bobTeam = await scenario.Bob.Http.GetStringAsync("/team?q=team%20nc-only");
        Assert.Contains($"/api/v1/images/{nc.Id}/thumbnail", bobTeam, StringComparison.Ordinal);
        Assert.Contains("by ada@example.com", bobTeam, StringComparison.Ordinal);
        Assert.Contains($"/api/v1/images/{nc.Id}/thumbnail", await scenario.Bob.Http.GetStringAsync($"/boards/{board}"), StringComparison.Ordinal);
        var corpTeam = await scenario.Corp.Http.GetStringAsync("/team");
        Assert.DoesNotContain(nc.Id.ToString(), corpTeam, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("not shown: made by a non-commercial model", corpTeam, StringComparison.Ordinal);
        var corpBoardPage = await scenario.Corp.Http.GetStringAsync($"/boards/{board}");
        Assert.DoesNotContain(nc.Id.ToString(), corpBoardPage, StringComparison.OrdinalIgnoreCase);
        Assert.Contains($"/api/v1/images/{apache.Id}/thumbnail", corpBoardPage, StringComparison.Ordinal);
        Assert.Contains("Team picks", await scenario.Corp.Http.GetStringAsync("/boards"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Use_as_reference_copies_the_shared_image_into_the_members_own_uploads_and_the_original_stays_the_owners()
    {
        var apache = await scenario.ApacheAsync(scenario.AdaActor, "reuse me");
        await scenario.ShareAsync($"images/{apache.Id}", "corp@example.com");

        var response = await SendAsync(scenario.Corp.Http, HttpMethod.Post, $"/api/v1/images/{apache.Id}/reuse");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var copy = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("imageId").GetGuid();
        Assert.NotEqual(apache.Id, copy);
        var row = await scenario.DbAsync(db => db.Images.AsNoTracking().SingleAsync(i => i.Id == copy));
        Assert.Equal((scenario.CorpActor.UserId, StoredImageKind.Upload), (row.OwnerId, row.Kind));
        Assert.Equal(scenario.AdaActor.UserId, await scenario.DbAsync(db => db.Images.Where(i => i.Id == apache.Id).Select(i => i.OwnerId).SingleAsync()));
        Assert.True(await scenario.DbAsync(db => db.AuditEvents.AnyAsync(a => a.Action == AuditActions.Reuse && a.ImageId == apache.Id && a.ActorId == scenario.CorpActor.UserId)));
        // The copy is Corp's own picture from now on; the owner's own image answers itself.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(scenario.Corp.Http, $"/api/v1/images/{copy}"));
        var own = await SendAsync(scenario.Ada.Http, HttpMethod.Post, $"/api/v1/images/{apache.Id}/reuse");
        Assert.Equal(apache.Id, (await own.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("imageId").GetGuid());
    }

    [Fact]
    public async Task Use_these_settings_reads_a_shared_images_job_for_members_only_and_under_their_licence()
    {
        var apache = await scenario.ApacheAsync(scenario.AdaActor, "settings to borrow");
        var nc = await scenario.NonCommercialAsync(scenario.AdaActor, "nc settings to borrow");
        await scenario.ShareAsync($"images/{apache.Id}", email: "corp@example.com");
        await scenario.ShareAsync($"images/{nc.Id}", email: "corp@example.com");
        var settings = scenario.Factory.Service<FluxWeb.Application.Jobs.JobSettingsReader>();

        var borrowed = await settings.ForImageAsync(scenario.CorpActor, apache.Id);
        Assert.Equal(("settings to borrow", apache.JobId), (borrowed.Settings?.Settings.Prompt, (Guid?)borrowed.Settings?.JobId));
        Assert.NotNull((await settings.ForImageAsync(scenario.CorpActor, nc.Id)).LicenceRefusal);
        Assert.Null((await settings.ForImageAsync(scenario.EveActor, apache.Id)).Settings);
        Assert.Null((await settings.ForImageAsync(scenario.EveActor, apache.Id)).LicenceRefusal);
    }

    [Fact]
    public async Task A_stranger_and_a_former_member_get_404_like_an_unknown_id_on_every_route()
    {
        var onBoard = await scenario.ApacheAsync(scenario.AdaActor, "for bob's eyes on a board");
        var direct = await scenario.ApacheAsync(scenario.AdaActor, "for bob's eyes directly");
        var board = await scenario.BoardAsync("Bob only", onBoard.Id);
        var boardShare = await scenario.ShareAsync($"boards/{board}", "bob@example.com");
        var imageShare = await scenario.ShareAsync($"images/{direct.Id}", "bob@example.com");
        var unknown = Guid.NewGuid();

        async Task AssertLockedOutAsync(HttpClient client)
        {
            foreach (var (method, route, body) in new (HttpMethod, string, object?)[]
            {
                (HttpMethod.Get, "/api/v1/boards/{0}", null),
                (HttpMethod.Patch, "/api/v1/boards/{0}", new { name = "mine now" }),
                (HttpMethod.Delete, "/api/v1/boards/{0}", null),
                (HttpMethod.Post, "/api/v1/boards/{0}/images", new { imageIds = new[] { onBoard.Id } }),
                (HttpMethod.Put, "/api/v1/boards/{0}/order", new { imageIds = new[] { onBoard.Id } }),
                (HttpMethod.Get, "/api/v1/boards/{0}/shares", null),
                (HttpMethod.Post, "/api/v1/boards/{0}/shares", new { team = true }),
            })
            {
                await AssertNotFoundLikeUnknownAsync(client, method, string.Format(null, route, board), string.Format(null, route, unknown), body);
            }

            await AssertNotFoundLikeUnknownAsync(client, HttpMethod.Delete, $"/api/v1/boards/{board}/images/{onBoard.Id}", $"/api/v1/boards/{unknown}/images/{onBoard.Id}");
            foreach (var image in new[] { onBoard.Id, direct.Id })
            {
                foreach (var (method, route) in new[] { (HttpMethod.Get, "/api/v1/images/{0}"), (HttpMethod.Get, "/api/v1/images/{0}/thumbnail"), (HttpMethod.Get, "/api/v1/images/{0}/shares"), (HttpMethod.Post, "/api/v1/images/{0}/reuse") })
                {
                    await AssertNotFoundLikeUnknownAsync(client, method, string.Format(null, route, image), string.Format(null, route, unknown));
                }

                await AssertNotFoundLikeUnknownAsync(client, HttpMethod.Post, $"/api/v1/images/{image}/shares", $"/api/v1/images/{unknown}/shares", new { team = true });
            }

            foreach (var share in new[] { boardShare, imageShare })
            {
                await AssertNotFoundLikeUnknownAsync(client, HttpMethod.Delete, $"/api/v1/shares/{share}", $"/api/v1/shares/{unknown}");
            }

            var feed = await client.GetStringAsync("/api/v1/feed?pageSize=200");
            var boards = await client.GetStringAsync("/api/v1/boards");
            foreach (var id in new[] { onBoard.Id, direct.Id, board })
            {
                Assert.DoesNotContain(id.ToString(), feed + boards, StringComparison.OrdinalIgnoreCase);
            }

            Assert.DoesNotContain("bob's eyes", (await client.GetStringAsync($"/gallery/{direct.Id}")) + await client.GetStringAsync($"/gallery/{onBoard.Id}"), StringComparison.Ordinal);
            var boardPage = await client.GetStringAsync($"/boards/{board}");
            Assert.Contains("board-missing", boardPage, StringComparison.Ordinal);
            Assert.DoesNotContain(onBoard.Id.ToString(), boardPage + await client.GetStringAsync("/team") + await client.GetStringAsync("/boards"), StringComparison.OrdinalIgnoreCase);
        }

        await AssertLockedOutAsync(scenario.Eve.Http);

        // Bob, while a member, sees both; he cannot end Ada's shares or pass them on.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(scenario.Bob.Http, $"/api/v1/images/{onBoard.Id}"));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(scenario.Bob.Http, $"/api/v1/images/{direct.Id}/thumbnail"));
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(scenario.Bob.Http, HttpMethod.Delete, $"/api/v1/shares/{boardShare}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(scenario.Bob.Http, HttpMethod.Post, $"/api/v1/boards/{board}/shares", new { team = true })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(scenario.Bob.Http, HttpMethod.Post, $"/api/v1/images/{direct.Id}/shares", new { email = "eve@example.com" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(scenario.Bob.Http, HttpMethod.Patch, $"/api/v1/boards/{board}", new { name = "mine now" })).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(scenario.Ada.Http, HttpMethod.Delete, $"/api/v1/shares/{boardShare}")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(scenario.Ada.Http, HttpMethod.Delete, $"/api/v1/shares/{imageShare}")).StatusCode);

        // At his very next request, Bob is a stranger again.
        await AssertLockedOutAsync(scenario.Bob.Http);
        Assert.Equal(2, await scenario.DbAsync(db => db.AuditEvents.CountAsync(a => a.Action == AuditActions.Unshare && a.ActorId == scenario.AdaActor.UserId && a.TargetUserId == scenario.BobActor.UserId)));
        Assert.Equal("Bob only", await scenario.DbAsync(db => db.Boards.Where(b => b.Id == board).Select(b => b.Name).SingleAsync()));
    }

    [Fact]
    public async Task A_members_key_reads_with_the_read_scope_and_changes_only_with_generate_and_an_admins_key_is_a_plain_user()
    {
        var shared = await scenario.ApacheAsync(scenario.AdaActor, "shared with bob's scripts");
        var secret = await scenario.ApacheAsync(scenario.AdaActor, "ada's private sketch");
        var privateBoard = await scenario.BoardAsync("Ada private", secret.Id);
        await scenario.ShareAsync($"images/{shared.Id}", "bob@example.com");

        using var read = await scenario.KeyClientAsync(scenario.BobActor, ApiKeyScope.Read);
        Assert.Contains(shared.Id, await FeedIdsAsync(read));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(read, $"/api/v1/images/{shared.Id}"));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(read, "/api/v1/boards"));
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(read, HttpMethod.Post, "/api/v1/boards", new { name = "by a read key" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(read, HttpMethod.Post, $"/api/v1/images/{shared.Id}/reuse")).StatusCode);
        Assert.True(await scenario.DbAsync(db => db.AuditEvents.AnyAsync(a => a.Action == AuditActions.Export && a.ImageId == shared.Id && a.ActorId == scenario.BobActor.UserId && a.TargetUserId == scenario.AdaActor.UserId)));

        using var generate = await scenario.KeyClientAsync(scenario.BobActor, ApiKeyScope.Generate);
        Assert.Equal(HttpStatusCode.Created, (await generate.PostAsJsonAsync("/api/v1/boards", new { name = "by a script" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await generate.PostAsync($"/api/v1/images/{shared.Id}/reuse", null)).StatusCode);

        // An administrator's key carries no role: Ada's private image and board are as unknown to it as to anyone.
        using var adminKey = await scenario.KeyClientAsync(scenario.AdminActor, ApiKeyScope.Generate);
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(adminKey, $"/api/v1/images/{secret.Id}"));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(adminKey, $"/api/v1/boards/{privateBoard}"));
        Assert.Equal(HttpStatusCode.NotFound, (await adminKey.PostAsync($"/api/v1/images/{secret.Id}/reuse", null)).StatusCode);
        Assert.DoesNotContain(secret.Id, await FeedIdsAsync(adminKey));
        // Signed in with the cookie, the administrator may look (every image), but reuse is not theirs to take.
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(scenario.Admin.Http, $"/api/v1/images/{secret.Id}"));
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(scenario.Admin.Http, HttpMethod.Post, $"/api/v1/images/{secret.Id}/reuse")).StatusCode);
        Assert.DoesNotContain(secret.Id, await FeedIdsAsync(scenario.Admin.Http));
    }

    [Fact]
    public async Task An_account_switched_to_commercial_loses_a_shared_non_commercial_image_at_once()
    {
        var nc = await scenario.NonCommercialAsync(scenario.AdaActor, "sam's nc-only view");
        await scenario.ShareAsync($"images/{nc.Id}", "sam@example.com");
        Assert.Contains(nc.Id, await FeedIdsAsync(scenario.Sam.Http));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(scenario.Sam.Http, $"/api/v1/images/{nc.Id}"));

        var switched = await scenario.Factory.Service<UserAdministration>().ChangeAsync(
            scenario.SamActor.UserId, new UserChange { AccountType = AccountType.Commercial, ConfirmOutputsUnavailable = true }, ChangeActor.CommandLine);
        Assert.True(switched.Succeeded, switched.Error);

        Assert.DoesNotContain(nc.Id, await FeedIdsAsync(scenario.Sam.Http));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(scenario.Sam.Http, $"/api/v1/images/{nc.Id}"));
        Assert.Equal(HttpStatusCode.Forbidden, await StatusAsync(scenario.Sam.Http, $"/api/v1/images/{nc.Id}/thumbnail"));
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(scenario.Sam.Http, HttpMethod.Post, $"/api/v1/images/{nc.Id}/reuse")).StatusCode);
        Assert.True(await scenario.DbAsync(db => db.AuditEvents.AnyAsync(a => a.Action == AuditActions.LicenceRefused && a.ImageId == nc.Id && a.ActorId == scenario.SamActor.UserId)));
    }

    [Fact]
    public async Task Contributors_add_only_their_own_images_and_lose_them_from_the_board_when_they_stop_contributing()
    {
        var adas = await scenario.ApacheAsync(scenario.AdaActor, "ada's board cover");
        var adasPrivate = await scenario.ApacheAsync(scenario.AdaActor, "ada's unshared");
        var bobs = await scenario.ApacheAsync(scenario.BobActor, "bob's contribution");
        var board = await scenario.BoardAsync("Moodboard", adas.Id);
        await scenario.ShareAsync($"boards/{board}", "bob@example.com", role: "Contributor");

        var added = await SendAsync(scenario.Bob.Http, HttpMethod.Post, $"/api/v1/boards/{board}/images", new { imageIds = new[] { bobs.Id, adasPrivate.Id } });
        Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        var addition = await added.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal([bobs.Id], addition.GetProperty("added").EnumerateArray().Select(e => e.GetGuid()));
        Assert.Equal([adasPrivate.Id], addition.GetProperty("skipped").EnumerateArray().Select(e => e.GetProperty("imageId").GetGuid()));

        var seenByAda = await scenario.Ada.Http.GetFromJsonAsync<JsonElement>($"/api/v1/boards/{board}");
        var items = seenByAda.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal([adas.Id, bobs.Id], items.Select(i => i.GetProperty("id").GetGuid()));
        Assert.Equal("bob@example.com", items[1].GetProperty("ownerEmail").GetString());
        Assert.Equal(JsonValueKind.Null, items[0].GetProperty("ownerEmail").ValueKind);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(scenario.Ada.Http, $"/api/v1/images/{bobs.Id}"));
        // A contributor takes back only their own.
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(scenario.Bob.Http, HttpMethod.Delete, $"/api/v1/boards/{board}/images/{adas.Id}")).StatusCode);

        // Made a viewer: his images leave the board (they stay his), and he can no longer add.
        await scenario.ShareAsync($"boards/{board}", "bob@example.com", role: "Viewer");
        Assert.Equal([adas.Id], (await scenario.Ada.Http.GetFromJsonAsync<JsonElement>($"/api/v1/boards/{board}")).GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid()));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(scenario.Ada.Http, $"/api/v1/images/{bobs.Id}"));
        Assert.Equal(HttpStatusCode.Forbidden, (await SendAsync(scenario.Bob.Http, HttpMethod.Post, $"/api/v1/boards/{board}/images", new { imageIds = new[] { bobs.Id } })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(scenario.Bob.Http, $"/api/v1/images/{bobs.Id}"));
    }

    [Fact]
    public async Task The_owner_renames_reorders_takes_off_and_deletes_a_board_and_the_images_stay()
    {
        var first = await scenario.ApacheAsync(scenario.AdaActor, "first");
        var second = await scenario.ApacheAsync(scenario.AdaActor, "second");
        var third = await scenario.ApacheAsync(scenario.AdaActor, "third");
        var board = await scenario.BoardAsync("Draft", first.Id, second.Id, third.Id);

        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(scenario.Ada.Http, HttpMethod.Post, "/api/v1/boards", new { name = "  " })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(scenario.Ada.Http, HttpMethod.Patch, $"/api/v1/boards/{board}", new { name = new string('x', 101) })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(scenario.Ada.Http, HttpMethod.Post, $"/api/v1/boards/{board}/shares", new { email = "nobody@example.com" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await SendAsync(scenario.Ada.Http, HttpMethod.Post, $"/api/v1/images/{first.Id}/shares", new { team = true, role = "Contributor" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(scenario.Ada.Http, HttpMethod.Patch, $"/api/v1/boards/{board}", new { name = "Final" })).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(scenario.Ada.Http, HttpMethod.Put, $"/api/v1/boards/{board}/order", new { imageIds = new[] { third.Id, first.Id } })).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(scenario.Ada.Http, HttpMethod.Delete, $"/api/v1/boards/{board}/images/{first.Id}")).StatusCode);

        var page = await scenario.Ada.Http.GetFromJsonAsync<JsonElement>($"/api/v1/boards/{board}?pageSize=1");
        Assert.Equal("Final", page.GetProperty("board").GetProperty("name").GetString());
        Assert.Equal([third.Id], page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid()));
        var rest = await scenario.Ada.Http.GetFromJsonAsync<JsonElement>($"/api/v1/boards/{board}?pageSize=1&cursor={page.GetProperty("nextCursor").GetString()}");
        Assert.Equal([second.Id], rest.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid()));
        Assert.Equal(JsonValueKind.Null, rest.GetProperty("nextCursor").ValueKind);

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(scenario.Ada.Http, HttpMethod.Delete, $"/api/v1/boards/{board}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(scenario.Ada.Http, $"/api/v1/boards/{board}"));
        Assert.Equal(3, await scenario.DbAsync(db => db.Images.CountAsync(i => i.Id == first.Id || i.Id == second.Id || i.Id == third.Id)));
    }

    [Fact]
    public async Task A_generation_through_the_api_lands_on_a_board_i_may_add_to_and_any_other_board_gets_the_same_refusal()
    {
        var mine = await scenario.BoardAsync("API picks");
        var strangers = (await (await SendAsync(scenario.Eve.Http, HttpMethod.Post, "/api/v1/boards", new { name = "Eve's private board" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var lookOnly = (await (await SendAsync(scenario.Sam.Http, HttpMethod.Post, "/api/v1/boards", new { name = "Sam's look-only board" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var shared = await SendAsync(scenario.Sam.Http, HttpMethod.Post, $"/api/v1/boards/{lookOnly}/shares", new { email = "ada@example.com", role = "Viewer" });
        Assert.True(shared.IsSuccessStatusCode, await shared.Content.ReadAsStringAsync());
        using var key = await scenario.KeyClientAsync(scenario.AdaActor, ApiKeyScope.Generate);
        object Body(string prompt, Guid board) => new { model = QueueHost.ModelId, prompt, width = 256, height = 256, autoAddBoardId = board };

        var accepted = await key.PostAsJsonAsync("/api/v1/generations", Body("a script's harbour for my board", mine));
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var jobId = (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobIds")[0].GetGuid();
        Assert.Equal(mine, await scenario.DbAsync(db => db.Jobs.Where(j => j.Id == jobId).Select(j => j.AutoAddBoardId).SingleAsync()));
        // The addition follows the job's recorded success, so it is polled for.
        await Eventually.Until(
            () => scenario.DbAsync(db => db.BoardImages.AnyAsync(e => e.BoardId == mine && db.Jobs.Any(j => j.Id == jobId && j.OutputImageId == e.ImageId))),
            "The API's result did not land on the board it asked for.");

        // A stranger's board, one shared to look at only and one that does not exist: the same answer, and no job.
        var jobsBefore = await scenario.DbAsync(db => db.Jobs.CountAsync(j => j.OwnerId == scenario.AdaActor.UserId));
        var unknown = await key.PostAsJsonAsync("/api/v1/generations", Body("no such board", Guid.NewGuid()));
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        var unknownProblem = await ProblemAsync(unknown);
        Assert.Contains(BoardAutoAdd.UnknownBoard, unknownProblem, StringComparison.Ordinal);
        foreach (var other in new[] { strangers, lookOnly })
        {
            var refused = await key.PostAsJsonAsync("/api/v1/generations", Body("no such board", other));
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Equal(unknownProblem, await ProblemAsync(refused));
        }

        Assert.Equal(jobsBefore, await scenario.DbAsync(db => db.Jobs.CountAsync(j => j.OwnerId == scenario.AdaActor.UserId)));

        // The same problem, but for its trace id.
        static async Task<string> ProblemAsync(HttpResponseMessage r) =>
            System.Text.RegularExpressions.Regex.Replace(await r.Content.ReadAsStringAsync(), "\"traceId\":\"[^\"]*\"", "");
    }
}
