using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Jobs;
using FluxWeb.Host.Uploads;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Web.Tests.Jobs;

/// <summary>
/// Two signed-in users and an admin on the real app. Ada owns a finished job (with its image), a
/// running job (with a live preview), a queued job and an uploaded input; Bob must not be able to
/// tell any of them exists, through any API route or the live events.
/// </summary>
public sealed class JobIsolationTests : IClassFixture<JobIsolationTests.Scenario>
{
    /// <summary>The API docs page's own script and icon (Scalar's, the same for everyone): public files, no data.</summary>
    private static readonly string[] PublicDocsAssets =
    [
        "GET /api/docs/favicon.svg",
        "GET /api/docs/scalar.aspnetcore.js",
        "GET /api/docs/scalar.js",
    ];

    /// <summary>Every API route the app maps. A new one fails this test until it is added here and to the checks below.</summary>
    private static readonly string[] KnownApiRoutes =
    [
        "GET /api/v1/jobs",
        "GET /api/v1/jobs/{id:guid}",
        "POST /api/v1/jobs/{id:guid}/cancel",
        "GET /api/v1/jobs/{id:guid}/preview",
        "GET /api/v1/images/{id:guid}",
        "DELETE /api/v1/images/{id:guid}",
        "GET /api/v1/images/{id:guid}/thumbnail",
        "POST /api/v1/images/{id:guid}/favourite",
        "DELETE /api/v1/images/{id:guid}/favourite",
        "GET /api/v1/uploads/masks/{id:guid}",
        "POST /api/v1/uploads/images",
        "POST /api/v1/uploads/masks",
        "POST /api/v1/generations",
        "GET /api/v1/images",
        "GET /api/v1/models",
        "GET /api/v1/usage",
        "GET /api/v1/boards",
        "POST /api/v1/boards",
        "GET /api/v1/boards/{id:guid}",
        "PATCH /api/v1/boards/{id:guid}",
        "DELETE /api/v1/boards/{id:guid}",
        "POST /api/v1/boards/{id:guid}/images",
        "DELETE /api/v1/boards/{id:guid}/images/{imageId:guid}",
        "PUT /api/v1/boards/{id:guid}/order",
        "GET /api/v1/boards/{id:guid}/shares",
        "POST /api/v1/boards/{id:guid}/shares",
        "GET /api/v1/images/{id:guid}/shares",
        "POST /api/v1/images/{id:guid}/shares",
        "POST /api/v1/images/{id:guid}/reuse",
        "POST /api/v1/images/{id:guid}/extend",
        "POST /api/v1/images/{id:guid}/vary",
        "POST /api/v1/images/{id:guid}/more",
        "POST /api/v1/images/{id:guid}/upscale",
        "DELETE /api/v1/shares/{id:guid}",
        "GET /api/v1/feed",
        "POST /api/v1/exports",
        "GET /api/v1/exports/{ticket:guid}",
        "GET /api/v1/presets",
        "POST /api/v1/presets",
        "GET /api/v1/presets/{id:guid}",
        "PUT /api/v1/presets/{id:guid}",
        "PATCH /api/v1/presets/{id:guid}",
        "DELETE /api/v1/presets/{id:guid}",
        "POST /api/v1/presets/{id:guid}/apply",
        "* /api/v1/hub",
        "* /api/v1/hub/negotiate",
        "GET /api/openapi/{documentName}.json",
        "GET /api/docs/{documentName?}",
        .. PublicDocsAssets,
    ];

    private readonly Scenario scenario;

    public JobIsolationTests(Scenario scenario) => this.scenario = scenario;

    public sealed class Scenario : IAsyncLifetime
    {
        public FakeImageGenerator Engine { get; } = new();

        public FluxWebFactory Factory { get; private set; } = default!;

        public SiteClient Admin { get; private set; } = default!;

        public SiteClient Ada { get; private set; } = default!;

        public SiteClient Bob { get; private set; } = default!;

        public JobActor AdaActor { get; private set; } = default!;

        public JobActor BobActor { get; private set; } = default!;

        public Guid FinishedJob { get; private set; }

        public Guid OutputImage { get; private set; }

        public Guid UploadedImage { get; private set; }

        public Guid UploadedMask { get; private set; }

        public Guid RunningJob { get; private set; }

        public Guid QueuedJob { get; private set; }

        public Guid Preset { get; private set; }

        public FakeImageGenerator.Hold Hold { get; private set; } = default!;

        public async Task InitializeAsync()
        {
            Factory = new FluxWebFactory().With("Accounts:Registration", "Open").WithEngine(Engine);
            Admin = new SiteClient(Factory.CreateBrowserClient());
            Ada = new SiteClient(Factory.CreateBrowserClient());
            Bob = new SiteClient(Factory.CreateBrowserClient());
            await Admin.RegisterAsync("admin@example.com");
            await Ada.RegisterAsync("ada@example.com");
            await Bob.RegisterAsync("bob@example.com");
            AdaActor = new JobActor(await UserIdAsync("ada@example.com"), false);
            BobActor = new JobActor(await UserIdAsync("bob@example.com"), false);

            var generation = Factory.Service<GenerationService>();
            using var upload = new MemoryStream();
            using (var picture = new Image<Rgb24>(64, 64, new Rgb24(1, 2, 3)))
            {
                await picture.SaveAsPngAsync(upload);
            }

            upload.Position = 0;
            UploadedImage = (await Factory.Service<ImageStore>().SaveUploadAsync(AdaActor.UserId, upload)).Id;
            UploadedMask = (await Factory.Service<MaskUploadStore>().SaveAsync(AdaActor.UserId, upload.ToArray())).Id;

            FinishedJob = (await generation.SubmitAsync(AdaActor.UserId, QueueHost.Request("finished").With(s => s with { ReferenceImageIds = [UploadedImage] }))).JobIds.Single();
            var finished = await WaitAsync(FinishedJob, j => j.State == JobState.Succeeded);
            OutputImage = finished.OutputImageId!.Value;

            Hold = Engine.HoldNextJob(step: 2);
            RunningJob = (await generation.SubmitAsync(AdaActor.UserId, QueueHost.Request("running"))).JobIds.Single();
            await Hold.Reached.WaitAsync(TimeSpan.FromSeconds(20));
            QueuedJob = (await generation.SubmitAsync(AdaActor.UserId, QueueHost.Request("queued"))).JobIds.Single();
            Preset = (await Factory.Service<FluxWeb.Application.Presets.PresetService>().CreateAsync(AdaActor, new FluxWeb.Application.Presets.PresetDraft { Name = "finished style", PromptTemplate = "{prompt}, finished" })).Value!.Id;
        }

        public Task<JobView> WaitAsync(Guid id, Func<JobView, bool> until) => WaitForAsync(Factory, new JobActor(AdaActor.UserId, false), id, until);

        private async Task<string> UserIdAsync(string email)
        {
            await using var scope = Factory.Services.CreateAsyncScope();
            return (await scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>().FindByEmailAsync(email))!.Id;
        }

        public Task DisposeAsync()
        {
            Hold.Release();
            Factory.Dispose();
            return Task.CompletedTask;
        }
    }

    private static async Task<JobView> WaitForAsync(FluxWebFactory factory, JobActor owner, Guid id, Func<JobView, bool> until)
    {
        var jobs = factory.Service<JobService>();
        JobView? job = null;
        return (await Eventually.Value(async () => job = await jobs.GetAsync(owner, id), j => until(j!), () => $"Job {id} is {job?.State}."))!;
    }

    private IReadOnlyList<string> ApiRoutes() =>
        scenario.Factory.Services.GetServices<EndpointDataSource>()
            .SelectMany(s => s.Endpoints).OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText!.TrimStart('/').StartsWith("api/", StringComparison.OrdinalIgnoreCase))
            .SelectMany(e => (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["*"]).Select(m => $"{m} /{e.RoutePattern.RawText!.Trim('/')}"))
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>Every request a route can receive for Ada's things: each job id for job routes, each image id for image routes, her preset for preset routes.</summary>
    private IEnumerable<HttpRequestMessage> RequestsForAdasThings(string route)
    {
        var parts = route.Split(' ', 2);
        var ids = parts[1].Contains("/images/", StringComparison.Ordinal)
            ? new[] { scenario.OutputImage, scenario.UploadedImage }
            : parts[1].Contains("/presets/", StringComparison.Ordinal) ? new[] { scenario.Preset }
            : parts[1].Contains("/uploads/masks/", StringComparison.Ordinal) ? new[] { scenario.UploadedMask }
            : parts[1].Contains("{id", StringComparison.Ordinal) ? new[] { scenario.FinishedJob, scenario.RunningJob, scenario.QueuedJob } : new[] { Guid.Empty };
        foreach (var id in ids)
        {
            // A ZIP's ticket is anyone's unknown one here (ZipExportTests fetches another account's).
            var url = parts[1].Replace("{id:guid}", id.ToString(), StringComparison.Ordinal).Replace("{ticket:guid}", Guid.NewGuid().ToString("N"), StringComparison.Ordinal);
            var request = new HttpRequestMessage(new HttpMethod(parts[0]), url);
            request.Headers.Add("X-FluxWeb-Request", "1");
            yield return request;
        }
    }

    [Fact]
    public void The_api_routes_are_exactly_the_ones_this_test_checks()
    {
        Assert.Equal(KnownApiRoutes.Order(StringComparer.Ordinal), ApiRoutes());
    }

    [Fact]
    public async Task Another_user_gets_404_for_every_job_and_image_route_and_sees_nothing_in_lists()
    {
        foreach (var route in ApiRoutes().Where(r => r.Contains("{id", StringComparison.Ordinal)))
        {
            foreach (var request in RequestsForAdasThings(route))
            {
                var response = await scenario.Bob.Http.SendAsync(request);
                Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"Bob: {request.Method} {request.RequestUri} returned {(int)response.StatusCode}");
                var body = await response.Content.ReadAsStringAsync();
                Assert.DoesNotContain("finished", body, StringComparison.Ordinal);
            }
        }

        var list = await scenario.Bob.Http.GetStringAsync("/api/v1/jobs?finished=200");
        foreach (var id in new[] { scenario.FinishedJob, scenario.RunningJob, scenario.QueuedJob })
        {
            Assert.DoesNotContain(id.ToString(), list, StringComparison.OrdinalIgnoreCase);
        }

        // Nothing changed for Ada: Bob's cancel attempts did not touch her jobs.
        Assert.Equal(JobState.Running, (await scenario.Factory.Service<JobService>().GetAsync(scenario.AdaActor, scenario.RunningJob))!.State);
        Assert.Equal(JobState.Queued, (await scenario.Factory.Service<JobService>().GetAsync(scenario.AdaActor, scenario.QueuedJob))!.State);
    }

    [Fact]
    public async Task The_owner_reads_her_jobs_preview_and_images()
    {
        var list = await scenario.Ada.Http.GetFromJsonAsync<JsonElement>("/api/v1/jobs");
        var ids = list.EnumerateArray().Select(j => j.GetProperty("id").GetGuid()).ToList();
        Assert.Contains(scenario.RunningJob, ids);
        Assert.Contains(scenario.QueuedJob, ids);
        Assert.Contains(scenario.FinishedJob, ids);
        var running = list.EnumerateArray().Single(j => j.GetProperty("id").GetGuid() == scenario.RunningJob);
        Assert.Equal("Running", running.GetProperty("state").GetString());
        Assert.Equal($"/api/v1/jobs/{scenario.RunningJob}/preview?step=2", running.GetProperty("previewUrl").GetString());
        Assert.Equal("1", running.GetProperty("seed").GetString());
        Assert.Equal("Denoising", running.GetProperty("stage").GetString());

        var job = await scenario.Ada.Http.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{scenario.QueuedJob}");
        Assert.Equal("Queued", job.GetProperty("state").GetString());
        Assert.Equal(1, job.GetProperty("queuePosition").GetInt32());

        var preview = await scenario.Ada.Http.GetAsync($"/api/v1/jobs/{scenario.RunningJob}/preview?step=2");
        Assert.Equal(HttpStatusCode.OK, preview.StatusCode);
        Assert.Equal("image/png", preview.Content.Headers.ContentType!.MediaType);
        Assert.True(preview.Headers.CacheControl!.NoStore);

        var image = await scenario.Ada.Http.GetAsync($"/api/v1/images/{scenario.OutputImage}");
        Assert.Equal(HttpStatusCode.OK, image.StatusCode);
        Assert.Equal("image/png", image.Content.Headers.ContentType!.MediaType);
        Assert.True(image.Headers.CacheControl!.Private);
        using (var png = Image.Load<Rgb24>(await image.Content.ReadAsByteArrayAsync()))
        {
            Assert.Equal(FakeImageGenerator.ColourOf(1), png[0, 0]);
        }

        var again = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/images/{scenario.OutputImage}");
        again.Headers.IfNoneMatch.Add(image.Headers.ETag!);
        Assert.Equal(HttpStatusCode.NotModified, (await scenario.Ada.Http.SendAsync(again)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await scenario.Ada.Http.GetAsync($"/api/v1/images/{scenario.UploadedImage}")).StatusCode);
    }

    [Fact]
    public async Task An_admin_reads_anyones_job_and_image()
    {
        Assert.Equal(HttpStatusCode.OK, (await scenario.Admin.Http.GetAsync($"/api/v1/jobs/{scenario.RunningJob}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await scenario.Admin.Http.GetAsync($"/api/v1/jobs/{scenario.RunningJob}/preview")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await scenario.Admin.Http.GetAsync($"/api/v1/images/{scenario.OutputImage}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await scenario.Admin.Http.GetAsync($"/api/v1/images/{scenario.OutputImage}/thumbnail")).StatusCode);
    }

    [Fact]
    public async Task Anonymous_callers_get_401_on_every_api_route()
    {
        var anonymous = scenario.Factory.CreateBrowserClient();
        foreach (var route in ApiRoutes().Except(PublicDocsAssets))
        {
            foreach (var request in RequestsForAdasThings(route))
            {
                var response = await anonymous.SendAsync(request);
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{request.Method} {request.RequestUri} anonymously returned {(int)response.StatusCode}");
            }
        }
    }

    [Fact]
    public async Task People_get_the_not_found_page_and_api_calls_a_bare_status()
    {
        var page = await scenario.Ada.Http.GetAsync("/no-such-page");
        var api = await scenario.Ada.Http.GetAsync("/api/v1/no-such-route");

        Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
        Assert.Contains("nothing at this address", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, api.StatusCode);
        Assert.DoesNotContain("<html", await api.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Cancel_needs_the_request_header_and_only_the_owner_or_an_admin_may()
    {
        var generation = scenario.Factory.Service<GenerationService>();
        var mine = (await generation.SubmitAsync(scenario.AdaActor.UserId, QueueHost.Request("to cancel", count: 2))).JobIds;

        var withoutHeader = await scenario.Ada.Http.PostAsync($"/api/v1/jobs/{mine[0]}/cancel", null);
        Assert.Equal(HttpStatusCode.BadRequest, withoutHeader.StatusCode);
        Assert.Contains("X-FluxWeb-Request", await withoutHeader.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var byOwner = await PostCancelAsync(scenario.Ada, mine[0]);
        Assert.Equal(HttpStatusCode.OK, byOwner.StatusCode);
        Assert.Equal("Cancelled", (await byOwner.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await PostCancelAsync(scenario.Ada, mine[0])).StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await PostCancelAsync(scenario.Bob, mine[1])).StatusCode);
        var byAdmin = await PostCancelAsync(scenario.Admin, mine[1]);
        Assert.Equal(HttpStatusCode.OK, byAdmin.StatusCode);
        Assert.Equal("Cancelled by an administrator.", (await byAdmin.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());

        // The other jobs of the owner are untouched.
        Assert.Equal(JobState.Queued, (await scenario.Factory.Service<JobService>().GetAsync(scenario.AdaActor, scenario.QueuedJob))!.State);
    }

    [Fact]
    public async Task Live_events_of_one_user_never_reach_another()
    {
        var events = scenario.Factory.Service<IJobEvents>();
        var bobSaw = new List<JobEvent>();
        using var bob = events.Subscribe(scenario.BobActor, e => { lock (bobSaw) { bobSaw.Add(e); } });
        var adaSaw = new List<JobEvent>();
        using var ada = events.Subscribe(scenario.AdaActor, e => { lock (adaSaw) { adaSaw.Add(e); } });

        Assert.Null(await events.SubscribeJobAsync(scenario.BobActor, scenario.RunningJob, _ => { }));
        Assert.Null(await events.SubscribeJobAsync(scenario.BobActor, scenario.QueuedJob, _ => { }));

        var generation = scenario.Factory.Service<GenerationService>();
        var extra = (await generation.SubmitAsync(scenario.AdaActor.UserId, QueueHost.Request("watched by ada"))).JobIds.Single();
        await Eventually.Until(() => { lock (adaSaw) { return adaSaw.Any(e => e.JobId == extra && e.Kind == JobEventKind.Queued); } }, "Ada hears of her own job.");

        // Bob's own job is published after Ada's; once he hears of it, anything of Ada's sent his way would have come first.
        var bobs = (await generation.SubmitAsync(scenario.BobActor.UserId, QueueHost.Request("watched by bob"))).JobIds.Single();
        await Eventually.Until(() => { lock (bobSaw) { return bobSaw.Any(e => e.JobId == bobs && e.Kind == JobEventKind.Queued); } }, "Bob hears of his own job.");
        Assert.Equal(CancelOutcome.Cancelled, await scenario.Factory.Service<JobService>().CancelAsync(scenario.BobActor, bobs));

        lock (bobSaw)
        {
            Assert.All(bobSaw, e => Assert.Equal(bobs, e.JobId));
        }
    }

    private static Task<HttpResponseMessage> PostCancelAsync(SiteClient client, Guid id)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/jobs/{id}/cancel");
        request.Headers.Add("X-FluxWeb-Request", "1");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return client.Http.SendAsync(request);
    }
}
