using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FluxWeb.Application.ApiKeys;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.ApiKeys;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Jobs;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Web.Tests.Api;

/// <summary>The REST API with API keys: same door as the Studio (quotas, licence, audit), only one's own things, scopes, revocation.</summary>
public sealed class ApiKeyTests(ApiScenario scenario) : IClassFixture<ApiScenario>
{
    private static JsonContent Generation(string model, string prompt, object? extra = null) =>
        JsonContent.Create(new Dictionary<string, object?>
        {
            ["model"] = model,
            ["prompt"] = prompt,
            ["seed"] = "18446744073709551615",
            ["referenceImageIds"] = extra,
        });

    private async Task<Guid> SubmitAsync(HttpClient client, string prompt, string model = QueueHost.ModelId, Guid[]? references = null)
    {
        var response = await client.PostAsync("/api/v1/generations", Generation(model, prompt, references ?? []));
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("18446744073709551615", body.GetProperty("seed").GetString());
        return body.GetProperty("jobIds")[0].GetGuid();
    }

    [Fact]
    public async Task Keys_are_stored_as_hashes_only()
    {
        var rows = await scenario.WithDbAsync(db => db.ApiKeys.AsNoTracking().ToListAsync());
        var row = rows.Single(k => k.Name == "ada script");

        Assert.StartsWith("fw_", scenario.AdaKey, StringComparison.Ordinal);
        Assert.True(scenario.AdaKey.Length >= 50, "A key carries 256 random bits after its prefix.");
        Assert.Equal(scenario.AdaKey[..11], row.Prefix);
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(scenario.AdaKey)), row.Hash);
        // Nothing in the database holds the key itself (the prefix alone proves nothing).
        var secret = scenario.AdaKey[11..];
        Assert.DoesNotContain(rows, k => k.Name.Contains(secret, StringComparison.Ordinal) || k.Prefix.Contains(secret, StringComparison.Ordinal) || Encoding.UTF8.GetString(k.Hash).Contains(secret, StringComparison.Ordinal));
        var dump = await File.ReadAllBytesAsync(Path.Combine(scenario.Factory.DataDirectory, "fluxweb.db"));
        Assert.Equal(-1, dump.AsSpan().IndexOf(Encoding.UTF8.GetBytes(secret)));
    }

    [Fact]
    public async Task A_key_submits_follows_lists_and_exports_its_own_image_and_the_export_is_audited()
    {
        using var client = scenario.KeyClient(scenario.AdaKey);

        // No X-FluxWeb-Request: a key is not a cookie a cross-site page could spend.
        var jobId = await SubmitAsync(client, "api lighthouse");
        var job = await scenario.WaitForEndAsync(scenario.AdaId, jobId);
        Assert.Equal(JobState.Succeeded, job.State);

        var state = await client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{jobId}");
        Assert.Equal("Succeeded", state.GetProperty("state").GetString());
        var list = await client.GetFromJsonAsync<JsonElement>("/api/v1/images?pageSize=200");
        var item = list.GetProperty("items").EnumerateArray().Single(i => i.GetProperty("jobId").GetGuid() == jobId);
        Assert.Equal("18446744073709551615", item.GetProperty("seed").GetString());

        var download = await client.GetAsync(item.GetProperty("downloadUrl").GetString());
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("image/png", download.Content.Headers.ContentType!.MediaType);
        var imageId = item.GetProperty("id").GetGuid();
        var audit = await scenario.WithDbAsync(db => db.AuditEvents.AsNoTracking().Where(a => a.ImageId == imageId).ToListAsync());
        Assert.Contains(audit, a => a.Action == AuditActions.Export && a.ActorId == scenario.AdaId && a.Channel == "api");
        var submitted = await scenario.WithDbAsync(db => db.AuditEvents.AsNoTracking().SingleAsync(a => a.JobId == jobId && a.Action == AuditActions.Generate));
        Assert.Equal("api", submitted.Channel);

        var keys = await scenario.Factory.Service<ApiKeyService>().ListAsync(scenario.AdaId, ChangeActor.CommandLine);
        Assert.NotNull(keys.Single(k => k.Name == "ada script").LastUsedUtc);
    }

    [Fact]
    public async Task A_negative_prompt_reaches_the_engine_is_stored_trimmed_and_read_back_and_a_too_long_one_is_a_400()
    {
        using var client = scenario.KeyClient(scenario.AdaKey);
        var body = new Dictionary<string, object?> { ["model"] = QueueHost.ModelId, ["prompt"] = "api negative", ["negativePrompt"] = "  blurry, text \n" };

        var response = await client.PostAsync("/api/v1/generations", JsonContent.Create(body));
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var jobId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobIds")[0].GetGuid();
        Assert.Equal(JobState.Succeeded, (await scenario.WaitForEndAsync(scenario.AdaId, jobId)).State);

        Assert.Contains(scenario.Engine.Completed, r => r.Prompt == "api negative" && r.NegativePrompt == "blurry, text");
        var job = await client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{jobId}");
        Assert.Equal("blurry, text", job.GetProperty("negativePrompt").GetString());
        Assert.Equal("blurry, text", await scenario.WithDbAsync(db => db.Jobs.Where(j => j.Id == jobId).Select(j => j.Settings.NegativePrompt).SingleAsync()));

        body["negativePrompt"] = new string('n', 10_001);
        var tooLong = await client.PostAsync("/api/v1/generations", JsonContent.Create(body));
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        Assert.Equal("The negative prompt is too long: it has 10,001 characters; at most 10,000 are accepted.", (await tooLong.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
    }

    [Fact]
    public async Task An_image_is_extended_through_the_api_and_bad_margins_or_a_read_key_are_refused_with_the_reason()
    {
        using var client = scenario.KeyClient(scenario.AdaKey);
        var made = await client.PostAsync("/api/v1/generations", JsonContent.Create(new { model = QueueHost.ModelId, prompt = "api harbour", width = 256, height = 256 }));
        Assert.True(made.StatusCode == HttpStatusCode.Accepted, await made.Content.ReadAsStringAsync());
        var madeJob = await scenario.WaitForEndAsync(scenario.AdaId, (await made.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobIds")[0].GetGuid());
        var route = $"/api/v1/images/{madeJob.OutputImageId}/extend";

        var response = await client.PostAsync(route, JsonContent.Create(new { top = 64, bottom = 32, prompt = "api harbour under a wide sky" }));

        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        var jobId = answer.GetProperty("jobIds")[0].GetGuid();
        Assert.Equal($"/api/v1/jobs/{jobId}", answer.GetProperty("jobUrls")[0].GetString());
        var job = await scenario.WaitForEndAsync(scenario.AdaId, jobId);
        Assert.Equal((JobState.Succeeded, JobMode.MaskedEdit), (job.State, job.Mode));
        Assert.Equal((256, 352), await scenario.WithDbAsync(db => db.Images.Where(i => i.Id == job.OutputImageId).Select(i => ValueTuple.Create(i.Width, i.Height)).SingleAsync()));
        Assert.Equal("api harbour under a wide sky", job.Settings.Prompt);

        var notOnTheGrid = await client.PostAsync(route, JsonContent.Create(new { left = 10 }));
        Assert.Equal(HttpStatusCode.BadRequest, notOnTheGrid.StatusCode);
        Assert.Equal("The left margin must be a multiple of 16: 10 is not; use 0 or 16.", (await notOnTheGrid.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        var noBody = await client.PostAsync(route, null);
        Assert.Equal(HttpStatusCode.BadRequest, noBody.StatusCode);
        Assert.Contains("at least one side needs a margin", await noBody.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var unknown = await client.PostAsync($"/api/v1/images/{Guid.NewGuid()}/extend", JsonContent.Create(new { left = 16 }));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var reader = scenario.KeyClient(scenario.AdaReadKey);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostAsync(route, JsonContent.Create(new { left = 16 }))).StatusCode);
        Assert.Equal(2, await scenario.WithDbAsync(db => db.Jobs.CountAsync(j => j.OwnerId == scenario.AdaId && (j.Id == madeJob.Id || j.Settings.Prompt == "api harbour under a wide sky"))));
    }

    [Fact]
    public async Task The_loop_runs_through_the_api_vary_more_like_this_and_upscale_with_the_doors_refusals()
    {
        using var client = scenario.KeyClient(scenario.AdaKey);
        var made = await client.PostAsync("/api/v1/generations", JsonContent.Create(new { model = QueueHost.ModelId, prompt = "api loop", width = 256, height = 256, seed = 500 }));
        Assert.True(made.StatusCode == HttpStatusCode.Accepted, await made.Content.ReadAsStringAsync());
        var madeJob = await scenario.WaitForEndAsync(scenario.AdaId, (await made.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobIds")[0].GetGuid());
        var image = madeJob.OutputImageId!.Value;

        async Task<List<JobView>> QueuedAsync(string action, object? body)
        {
            var response = await client.PostAsync($"/api/v1/images/{image}/{action}", body is null ? null : JsonContent.Create(body));
            Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{action}: {await response.Content.ReadAsStringAsync()}");
            var ids = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobIds").EnumerateArray().Select(j => j.GetGuid()).ToList();
            return [.. await Task.WhenAll(ids.Select(id => scenario.WaitForEndAsync(scenario.AdaId, id)))];
        }

        var strong = Assert.Single(await QueuedAsync("vary", new { strength = "strong" }));
        Assert.Equal((JobState.Succeeded, JobMode.MaskedEdit, image, 0.7f), (strong.State, strong.Mode, strong.Settings.SourceImageId!.Value, strong.Settings.Strength));
        var subtle = Assert.Single(await QueuedAsync("vary", null));
        Assert.Equal(0.35f, subtle.Settings.Strength);
        var more = await QueuedAsync("more", new { count = 2 });
        Assert.Equal([501UL, 502UL], more.Select(j => j.Settings.Seed!.Value).Order());
        Assert.All(more, j => Assert.Equal(("api loop", JobMode.TextToImage), (j.Prompt, j.Mode)));
        var upscaled = Assert.Single(await QueuedAsync("upscale", null));
        Assert.Equal((JobMode.Edit, 512, 512, image), (upscaled.Mode, upscaled.Width, upscaled.Height, upscaled.Settings.ReferenceImageIds.Single()));

        var wild = await client.PostAsync($"/api/v1/images/{image}/vary", JsonContent.Create(new { strength = "wild" }));
        Assert.Equal(HttpStatusCode.BadRequest, wild.StatusCode);
        var tooMany = await client.PostAsync($"/api/v1/images/{image}/more", JsonContent.Create(new { count = 99 }));
        Assert.Equal(HttpStatusCode.BadRequest, tooMany.StatusCode);
        Assert.Contains("Ask for between 1 and", await tooMany.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync($"/api/v1/images/{Guid.NewGuid()}/upscale", null)).StatusCode);
        using var reader = scenario.KeyClient(scenario.AdaReadKey);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostAsync($"/api/v1/images/{image}/more", null)).StatusCode);
        Assert.Equal(6, await scenario.WithDbAsync(db => db.Jobs.CountAsync(j => j.OwnerId == scenario.AdaId && (j.Id == madeJob.Id || j.Settings.Prompt == "api loop"))));
    }

    [Fact]
    public async Task A_commercial_account_is_refused_a_non_commercial_model_through_the_api_and_it_is_audited_and_counted()
    {
        using var client = scenario.KeyClient(scenario.AdaKey);

        var response = await client.PostAsync("/api/v1/generations", Generation(QueueHost.OtherModelId, "tampered model id", Array.Empty<Guid>()));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("FLUX-Non-Commercial", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var refused = await scenario.WithDbAsync(db => db.AuditEvents.AsNoTracking()
            .Where(a => a.ActorId == scenario.AdaId && a.Action == AuditActions.LicenceRefused && a.ModelId == QueueHost.OtherModelId && a.Channel == "api").CountAsync());
        Assert.True(refused >= 1);
        Assert.Equal(0, await scenario.WithDbAsync(db => db.Jobs.CountAsync(j => j.OwnerId == scenario.AdaId && j.Settings.ModelId == QueueHost.OtherModelId)));
        Assert.True(await scenario.WithDbAsync(db => db.DailyUsage.Where(u => u.UserId == scenario.AdaId).SumAsync(u => u.Rejected)) >= 1);
    }

    [Fact]
    public async Task A_read_key_lists_but_cannot_submit_upload_or_cancel()
    {
        using var client = scenario.KeyClient(scenario.AdaReadKey);

        var submit = await client.PostAsync("/api/v1/generations", Generation(QueueHost.ModelId, "read only", Array.Empty<Guid>()));
        Assert.Equal(HttpStatusCode.Forbidden, submit.StatusCode);
        Assert.Contains("read scope", await submit.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync("/api/v1/uploads/images", PngContent(Png(8)))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync($"/api/v1/jobs/{Guid.NewGuid()}/cancel", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/images")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/jobs")).StatusCode);
    }

    [Fact]
    public async Task A_key_never_reaches_another_users_jobs_or_images_not_even_an_administrators_key()
    {
        using var ada = scenario.KeyClient(scenario.AdaKey);
        var jobId = await SubmitAsync(ada, "ada's secret");
        var job = await scenario.WaitForEndAsync(scenario.AdaId, jobId);
        var imageId = job.OutputImageId!.Value;

        foreach (var key in new[] { scenario.BobKey, scenario.AdminKey })
        {
            using var other = scenario.KeyClient(key);
            Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/api/v1/jobs/{jobId}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/api/v1/images/{imageId}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/api/v1/jobs/{jobId}/cancel", null)).StatusCode);
            Assert.DoesNotContain(jobId.ToString(), await other.GetStringAsync("/api/v1/jobs?finished=200"), StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(imageId.ToString(), await other.GetStringAsync("/api/v1/images?pageSize=200"), StringComparison.OrdinalIgnoreCase);
        }

        // The administrator's cookie does see it: the key is what makes the difference.
        Assert.Equal(HttpStatusCode.OK, (await scenario.Admin.Http.GetAsync($"/api/v1/jobs/{jobId}")).StatusCode);
    }

    [Fact]
    public async Task A_revoked_key_is_refused_on_the_very_next_request()
    {
        var key = await scenario.CreateKeyAsync(scenario.BobId, "short lived", ApiKeyScope.Generate);
        using var client = scenario.KeyClient(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/jobs")).StatusCode);

        var (revoked, _) = await scenario.Factory.Service<ApiKeyService>().RevokeAsync(scenario.BobId, null, "short lived", ChangeActor.CommandLine);

        Assert.NotNull(revoked);
        var response = await client.GetAsync("/api/v1/jobs");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync("/api/v1/generations", Generation(QueueHost.ModelId, "after revocation", Array.Empty<Guid>()))).StatusCode);
        Assert.Contains(await scenario.WithDbAsync(db => db.AuditEvents.AsNoTracking().Where(a => a.TargetUserId == scenario.BobId).ToListAsync()),
            a => a.Action == AuditActions.ApiKeyRevoked && a.Detail!.Contains("short lived", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Unknown_and_malformed_keys_get_401()
    {
        foreach (var key in new[] { "fw_nothing", scenario.AdaKey[..^1] + (scenario.AdaKey[^1] == 'A' ? 'B' : 'A'), "not-a-key" })
        {
            using var client = scenario.KeyClient(key);
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/jobs")).StatusCode);
        }
    }

    [Fact]
    public async Task Usage_answers_the_callers_own_limits_and_days_and_refuses_a_range_it_does_not_keep()
    {
        var today = scenario.Factory.Service<FluxWeb.Application.Quotas.QuotaService>().Clock.Today;
        await scenario.WithDbAsync(async db =>
        {
            db.DailyUsage.Add(new FluxWeb.Persistence.Quotas.DailyUsage { UserId = scenario.NicoId, Day = today.AddDays(-5), Images = 77, GpuSeconds = 770 });
            return await db.SaveChangesAsync();
        });
        using var ada = scenario.KeyClient(scenario.AdaReadKey);
        using var nico = scenario.KeyClient(scenario.NicoKey);

        var mine = await ada.GetFromJsonAsync<JsonElement>("/api/v1/usage?days=7");
        var nicos = await nico.GetFromJsonAsync<JsonElement>("/api/v1/usage?days=7");

        var limits = mine.GetProperty("today").GetProperty("limits");
        Assert.Equal(JsonValueKind.Number, limits.GetProperty("imagesPerDay").ValueKind);
        Assert.Equal(today.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), mine.GetProperty("today").GetProperty("day").GetString());
        Assert.DoesNotContain(mine.GetProperty("days").EnumerateArray(), d => d.GetProperty("images").GetInt32() == 77);
        var nicosDay = Assert.Single(nicos.GetProperty("days").EnumerateArray(), d => d.GetProperty("images").GetInt32() == 77);
        Assert.Equal(770, nicosDay.GetProperty("gpuSeconds").GetDouble());
        Assert.DoesNotContain((await nico.GetFromJsonAsync<JsonElement>("/api/v1/usage?days=5")).GetProperty("days").EnumerateArray(), d => d.GetProperty("images").GetInt32() == 77);
        foreach (var days in new[] { "0", "367" })
        {
            var refused = await ada.GetAsync($"/api/v1/usage?days={days}");
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains($"days must be between 1 and 366 (it was {days})", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using var anonymous = scenario.Factory.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/usage")).StatusCode);
    }

    [Fact]
    public async Task A_disabled_accounts_key_stops_working_and_the_account_cannot_submit()
    {
        var carol = new SiteClient(scenario.Factory.CreateBrowserClient());
        await carol.RegisterAsync("carol@example.com");
        var carolId = await scenario.UserIdAsync("carol@example.com");
        var key = await scenario.CreateKeyAsync(carolId, "carol", ApiKeyScope.Generate);
        using var client = scenario.KeyClient(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/models")).StatusCode);

        var changed = await scenario.Factory.Service<FluxWeb.Application.Administration.UserAdministration>()
            .ChangeAsync(carolId, new FluxWeb.Application.Administration.UserChange { Disabled = true }, ChangeActor.Ui(scenario.AdminId));

        Assert.True(changed.Succeeded, changed.Error);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/models")).StatusCode);
        var refused = await scenario.Factory.Service<GenerationService>().SubmitAsync(carolId, QueueHost.Request("disabled"));
        Assert.True(refused.AccessRefused);
        Assert.Equal(FluxWeb.Application.Models.ModelAccessService.AccountDisabled, refused.Error);
    }

    [Fact]
    public async Task Uploaded_images_become_references_and_bad_uploads_are_refused_with_a_reason()
    {
        using var client = scenario.KeyClient(scenario.AdaKey);

        var upload = await client.PostAsync("/api/v1/uploads/images", PngContent(Png(48)));
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        var uploaded = await upload.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(48, uploaded.GetProperty("width").GetInt32());
        var reference = uploaded.GetProperty("id").GetGuid();

        var jobId = await SubmitAsync(client, "with a reference", references: [reference]);
        Assert.Equal(JobState.Succeeded, (await scenario.WaitForEndAsync(scenario.AdaId, jobId)).State);

        // Bytes that claim to be a PNG but are text: the decoder refuses them with its reason.
        var garbage = await client.PostAsync("/api/v1/uploads/images", PngContent(Encoding.UTF8.GetBytes("definitely not a picture")));
        Assert.True(garbage.StatusCode is HttpStatusCode.UnsupportedMediaType or HttpStatusCode.BadRequest, $"{(int)garbage.StatusCode}");
        Assert.False(string.IsNullOrEmpty((await garbage.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()));

        // A script that forgets the Content-Type is told what to send.
        var untyped = await client.PostAsync("/api/v1/uploads/images", new ByteArrayContent(Png(48)));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, untyped.StatusCode);
        Assert.Contains("image/png", (await untyped.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);

        // Another user's upload id is "not found" for the request, not a way to read it.
        using var bob = scenario.KeyClient(scenario.BobKey);
        var stolen = await bob.PostAsync("/api/v1/generations", Generation(QueueHost.ModelId, "steal", new[] { reference }));
        Assert.Equal(HttpStatusCode.BadRequest, stolen.StatusCode);
    }

    [Fact]
    public async Task Models_list_says_which_models_the_caller_may_use_and_why_not()
    {
        using var ada = scenario.KeyClient(scenario.AdaKey);
        using var nico = scenario.KeyClient(scenario.NicoKey);

        var forAda = (await ada.GetFromJsonAsync<JsonElement>("/api/v1/models")).EnumerateArray().ToDictionary(m => m.GetProperty("id").GetString()!);
        var forNico = (await nico.GetFromJsonAsync<JsonElement>("/api/v1/models")).EnumerateArray().ToDictionary(m => m.GetProperty("id").GetString()!);

        Assert.True(forAda[QueueHost.ModelId].GetProperty("allowed").GetBoolean());
        Assert.False(forAda[QueueHost.OtherModelId].GetProperty("allowed").GetBoolean());
        Assert.Contains("licensed for commercial use", forAda[QueueHost.OtherModelId].GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.True(forNico[QueueHost.OtherModelId].GetProperty("allowed").GetBoolean());
    }

    [Fact]
    public async Task Cookie_requests_that_change_something_still_need_the_request_header()
    {
        var withoutHeader = await scenario.Ada.Http.PostAsync("/api/v1/generations", Generation(QueueHost.ModelId, "cookie", Array.Empty<Guid>()));
        Assert.Equal(HttpStatusCode.BadRequest, withoutHeader.StatusCode);

        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/generations") { Content = Generation(QueueHost.ModelId, "cookie", Array.Empty<Guid>()) };
        request.Headers.Add("X-FluxWeb-Request", "1");
        Assert.Equal(HttpStatusCode.Accepted, (await scenario.Ada.Http.SendAsync(request)).StatusCode);
    }

    [Fact]
    public async Task Quota_refusals_are_429_with_the_reason_and_when_it_resets()
    {
        var dora = new SiteClient(scenario.Factory.CreateBrowserClient());
        await dora.RegisterAsync("dora@example.com");
        var doraId = await scenario.UserIdAsync("dora@example.com");
        await scenario.Factory.Service<FluxWeb.Application.Administration.UserAdministration>()
            .ChangeAsync(doraId, new FluxWeb.Application.Administration.UserChange { Quota = new(0, null, null) }, ChangeActor.Ui(scenario.AdminId));
        using var client = scenario.KeyClient(await scenario.CreateKeyAsync(doraId, "dora", ApiKeyScope.Generate));

        var response = await client.PostAsync("/api/v1/generations", Generation(QueueHost.ModelId, "over quota", Array.Empty<Guid>()));

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("Daily image quota reached", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("ImagesPerDay", problem.GetProperty("limit").GetString());
    }

    [Fact]
    public async Task The_openapi_document_describes_the_api_and_the_docs_page_needs_sign_in()
    {
        var document = await scenario.Ada.Http.GetFromJsonAsync<JsonElement>("/api/openapi/v1.json");
        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("/api/v1/generations", paths);
        Assert.Contains("/api/v1/images", paths);
        Assert.Contains("/api/v1/jobs/{id}", paths);
        Assert.DoesNotContain(paths, p => p.StartsWith("/admin", StringComparison.Ordinal) || p.StartsWith("/Account", StringComparison.Ordinal));
        var uploadBody = document.GetProperty("paths").GetProperty("/api/v1/uploads/images").GetProperty("post").GetProperty("requestBody").GetProperty("content");
        Assert.Equal(["image/jpeg", "image/png", "image/webp"], uploadBody.EnumerateObject().Select(c => c.Name).Order(StringComparer.Ordinal));
        Assert.Equal("binary", uploadBody.GetProperty("image/png").GetProperty("schema").GetProperty("format").GetString());
        Assert.Equal("bearer", document.GetProperty("components").GetProperty("securitySchemes").GetProperty("ApiKey").GetProperty("scheme").GetString());

        using var script = scenario.KeyClient(scenario.AdaReadKey);
        Assert.Equal(HttpStatusCode.OK, (await script.GetAsync("/api/openapi/v1.json")).StatusCode);

        var docs = await scenario.Ada.Http.GetAsync("/api/docs/");
        Assert.Equal(HttpStatusCode.OK, docs.StatusCode);
        Assert.Equal("text/html", docs.Content.Headers.ContentType!.MediaType);
        Assert.Equal(HttpStatusCode.Unauthorized, (await scenario.Factory.CreateBrowserClient().GetAsync("/api/docs")).StatusCode);
    }

    [Fact]
    public async Task After_a_switch_to_commercial_the_accounts_non_commercial_image_is_refused_everywhere_and_each_refusal_is_audited()
    {
        var erin = new SiteClient(scenario.Factory.CreateBrowserClient());
        await erin.RegisterAsync("erin@example.com");
        var erinId = await scenario.UserIdAsync("erin@example.com");
        var users = scenario.Factory.Service<FluxWeb.Application.Administration.UserAdministration>();
        await users.ChangeAsync(erinId, new FluxWeb.Application.Administration.UserChange { AccountType = FluxWeb.Domain.Accounts.AccountType.NonCommercial }, ChangeActor.Ui(scenario.AdminId));
        var made = (await scenario.Factory.Service<GenerationService>().SubmitAsync(erinId, QueueHost.Request("nine b output", model: QueueHost.OtherModelId))).JobIds.Single();
        var image = (await scenario.WaitForEndAsync(erinId, made)).OutputImageId!.Value;
        using var key = scenario.KeyClient(await scenario.CreateKeyAsync(erinId, "erin", ApiKeyScope.Generate));
        Assert.Equal(HttpStatusCode.OK, (await key.GetAsync($"/api/v1/images/{image}")).StatusCode);

        // The admin is told first; without confirmation nothing changes.
        var unconfirmed = await users.ChangeAsync(erinId, new FluxWeb.Application.Administration.UserChange { AccountType = FluxWeb.Domain.Accounts.AccountType.Commercial }, ChangeActor.Ui(scenario.AdminId));
        Assert.False(unconfirmed.Succeeded);
        Assert.Equal(1, unconfirmed.NonCommercialOutputsNeedingConfirmation);
        Assert.Contains("1 image made by non-commercial models", unconfirmed.Error, StringComparison.Ordinal);
        var confirmed = await users.ChangeAsync(erinId, new FluxWeb.Application.Administration.UserChange { AccountType = FluxWeb.Domain.Accounts.AccountType.Commercial, ConfirmOutputsUnavailable = true }, ChangeActor.Ui(scenario.AdminId));
        Assert.True(confirmed.Succeeded, confirmed.Error);

        var viaKey = await key.GetAsync($"/api/v1/images/{image}?download=true");
        var viaUrl = await erin.Http.GetAsync($"/api/v1/images/{image}");
        var asReference = await key.PostAsync("/api/v1/generations", Generation(QueueHost.ModelId, "reuse", new[] { image }));
        var list = await key.GetStringAsync("/api/v1/images?pageSize=200");

        Assert.Equal(HttpStatusCode.Forbidden, viaKey.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, viaUrl.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, asReference.StatusCode);
        Assert.DoesNotContain(image.ToString(), list, StringComparison.OrdinalIgnoreCase);
        var refusals = await scenario.WithDbAsync(db => db.AuditEvents.AsNoTracking().Where(a => a.ActorId == erinId && a.Action == AuditActions.LicenceRefused).ToListAsync());
        Assert.Equal(2, refusals.Count(a => a.ImageId == image));
        Assert.Contains(refusals, a => a.ImageId is null && a.Detail!.Contains("as input", StringComparison.Ordinal));
        // Kept, and still there for administrators.
        Assert.Equal(HttpStatusCode.OK, (await scenario.Admin.Http.GetAsync($"/api/v1/images/{image}")).StatusCode);
        Assert.Contains(await scenario.WithDbAsync(db => db.AuditEvents.AsNoTracking().Where(a => a.TargetUserId == erinId && a.Action == AuditActions.AdminChange).ToListAsync()),
            a => a.Detail!.Contains("NonCommercial → Commercial (1 non-commercial output kept but no longer available", StringComparison.Ordinal));
    }

    private static ByteArrayContent PngContent(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("image/png");
        return content;
    }

    private static byte[] Png(int size)
    {
        using var image = new Image<Rgb24>(size, size, new Rgb24(10, 20, 30));
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return stream.ToArray();
    }
}
