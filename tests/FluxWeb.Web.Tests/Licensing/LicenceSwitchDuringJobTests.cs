using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Jobs;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Web.Tests.Licensing;

/// <summary>
/// Issue 19, finding 4 (and the hub part of 8): the account is switched to Commercial while its
/// non-commercial job runs. From that moment its preview, its job view and the hub's events carry
/// nothing of the job: no preview URL, no output id.
/// </summary>
public sealed class LicenceSwitchDuringJobTests : IAsyncLifetime
{
    private readonly FakeImageGenerator engine = new();
    private FluxWebFactory factory = default!;
    private SiteClient nico = default!;
    private string nicoId = "";
    private string nicoKey = "";

    public async Task InitializeAsync()
    {
        factory = new FluxWebFactory().With("Accounts:Registration", "Open").WithEngine(engine);
        await new SiteClient(factory.CreateBrowserClient()).RegisterAsync("admin@example.com");
        nico = new SiteClient(factory.CreateBrowserClient());
        await nico.RegisterAsync("nico@example.com");
        nicoId = (await factory.Service<UserAdministration>().FindByEmailAsync("nico@example.com", ChangeActor.CommandLine))!.Id;
        await factory.Service<UserAdministration>().ChangeAsync(nicoId, new UserChange { AccountType = AccountType.NonCommercial }, ChangeActor.CommandLine);
        var (key, error) = await factory.Service<FluxWeb.Application.ApiKeys.ApiKeyService>()
            .CreateAsync(nicoId, "nico script", FluxWeb.Domain.ApiKeys.ApiKeyScope.Generate, ChangeActor.CommandLine);
        nicoKey = key?.Key ?? throw new InvalidOperationException(error);
    }

    public Task DisposeAsync()
    {
        factory.Dispose();
        return Task.CompletedTask;
    }

    private HubConnection Connect() =>
        new HubConnectionBuilder()
            .WithUrl(new Uri(factory.Server.BaseAddress, "/api/v1/hub"), options =>
            {
                options.Transports = HttpTransportType.LongPolling;
                options.HttpMessageHandlerFactory = _ => factory.Server.CreateHandler();
                options.AccessTokenProvider = () => Task.FromResult<string?>(nicoKey);
            })
            .Build();

    private async Task<Guid> EndedAsync(Guid jobId)
    {
        Job? last = null;
        var job = await Eventually.Value(
            async () =>
            {
                await using var db = await factory.Service<IDbContextFactory<FluxWeb.Persistence.FluxWebDbContext>>().CreateDbContextAsync();
                return last = await db.Jobs.AsNoTracking().SingleAsync(j => j.Id == jobId);
            },
            j => j.State.IsFinished(),
            () => $"Job {jobId} is {last?.State}.");
        return job.OutputImageId ?? Guid.Empty;
    }

    [Fact]
    public async Task Finding_4_after_a_switch_the_running_non_commercial_job_sends_no_preview_and_no_output_to_the_account()
    {
        var events = new ConcurrentQueue<JsonElement>();
        await using var hub = Connect();
        hub.On<JsonElement>("jobEvent", e => events.Enqueue(e));
        await hub.StartAsync();

        var hold = engine.HoldNextJob(step: 2);
        var generation = factory.Service<GenerationService>();
        var ncJob = (await generation.SubmitAsync(nicoId, QueueHost.Request("nc job across a switch", model: QueueHost.OtherModelId))).JobIds.Single();
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(20));
        var preview = $"/api/v1/jobs/{ncJob}/preview?step=2";
        Assert.Equal(HttpStatusCode.OK, (await nico.Http.GetAsync(preview)).StatusCode);
        // The job stops after reporting step 2: once that event is here, nothing more of the job is on its way.
        await Eventually.Until(
            () => events.Any(e => e.GetProperty("jobId").GetGuid() == ncJob && e.GetProperty("step").GetInt32() == 2 && e.GetProperty("previewUrl").ValueKind == JsonValueKind.String),
            "The hub never sent the running job's step 2 preview while the account was non-commercial.");

        var switched = await factory.Service<UserAdministration>().ChangeAsync(
            nicoId, new UserChange { AccountType = AccountType.Commercial, ConfirmOutputsUnavailable = true }, ChangeActor.CommandLine);
        Assert.True(switched.Succeeded, switched.Error);
        var seenBeforeSwitch = events.Count;

        // The preview is licence-checked when it is served, like an image.
        var afterSwitch = await nico.Http.GetAsync(preview);
        Assert.Equal(HttpStatusCode.Forbidden, afterSwitch.StatusCode);
        Assert.Contains("licensed for commercial use", await afterSwitch.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using (var key = factory.CreateClient())
        {
            key.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", nicoKey);
            Assert.Equal(HttpStatusCode.Forbidden, (await key.GetAsync(preview)).StatusCode);
        }

        hold.Release();
        var output = await EndedAsync(ncJob);
        Assert.NotEqual(Guid.Empty, output);

        // A job the account may still receive, after the other one: the hub delivers each connection's
        // events in order, so once its end arrives everything about the first job has been decided.
        var marker = (await generation.SubmitAsync(nicoId, QueueHost.Request("apache marker"))).JobIds.Single();
        await Eventually.Until(
            () => events.Any(e => e.GetProperty("jobId").GetGuid() == marker && e.GetProperty("kind").GetString() == "Succeeded"),
            "The marker job's end never reached the hub.");

        var late = events.Skip(seenBeforeSwitch).Where(e => e.GetProperty("jobId").GetGuid() == ncJob).ToList();
        Assert.True(late.Count == 0, $"After the switch the hub still sent: {string.Join(", ", late.Select(e => e.GetRawText()))}");
        Assert.DoesNotContain(events, e => e.TryGetProperty("outputImageId", out var id) && id.ValueKind == JsonValueKind.String && id.GetGuid() == output);
        Assert.Equal(HttpStatusCode.Forbidden, (await nico.Http.GetAsync($"/api/v1/images/{output}")).StatusCode);
    }
}
