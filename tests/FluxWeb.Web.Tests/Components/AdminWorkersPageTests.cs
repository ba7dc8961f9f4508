using System.Security.Claims;
using Bunit;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Jobs;
using FluxWeb.Host.Components.Pages.Admin;
using FluxWeb.Inference.Devices;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;

namespace FluxWeb.Web.Tests.Components;

/// <summary>The admin "Workers" page (issue 18): every worker with what it does, live, and drain/resume that the dispatcher obeys and the audit log records.</summary>
public sealed class AdminWorkersPageTests : IAsyncLifetime
{
    private readonly TempFolder folder = new("fluxweb-admin-workers");
    private readonly FakeImageGenerator[] engines = [new(), new()];
    private QueueHost host = default!;
    private JobActor admin = default!;

    public async Task InitializeAsync()
    {
        host = await QueueHost.StartAsync(folder.Path, engines[0], services: s => s.AddSingleton<IDeviceEngines>(new TestDeviceEngines(engines)));
        admin = await host.CreateUserAsync("admin@example.com", Roles.Admin);
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private BunitContext NewContext(WorkerAdministration? administration = null)
    {
        var ctx = new BunitContext();
        var auth = ctx.AddAuthorization();
        auth.SetAuthorized("admin@example.com");
        auth.SetRoles(Roles.Admin);
        auth.SetClaims(new Claim(ClaimTypes.NameIdentifier, admin.UserId));
        ctx.Services.AddMudServices();
        ctx.Services.AddSingleton(administration ?? host.Services.GetRequiredService<WorkerAdministration>());
        ctx.JSInterop.Mode = JSRuntimeMode.Loose;
        ctx.SetRendererInfo(new RendererInfo("Server", true));
        return ctx;
    }

    private static string StateOf(IRenderedComponent<AdminWorkers> cut, string workerId) =>
        cut.Find($"[data-testid=worker-row][data-worker-id='{workerId}']").GetAttribute("data-state")!;

    /// <summary>
    /// While the dispatcher moves to another process (the one it ran in stopped), the moment an administrator opens
    /// this page, its calls fail: the page says so and keeps polling, instead of ending with an unhandled error.
    /// </summary>
    [Fact]
    public async Task While_the_dispatcher_does_not_answer_the_page_says_so_keeps_the_last_list_and_recovers()
    {
        var directory = new DispatcherDown(host.Services.GetRequiredService<IWorkerDirectory>()) { Down = false };
        var administration = ActivatorUtilities.CreateInstance<WorkerAdministration>(host.Services, directory);
        var first = host.Services.GetRequiredService<JobWorkers>().Workers[0];
        await using var ctx = NewContext(administration);
        var cut = ctx.Render<AdminWorkers>();
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=worker-row]").Count));

        directory.Down = true;
        cut.WaitForAssertion(() => Assert.Contains("dispatcher did not answer", cut.Find("[data-testid=workers-unavailable]").TextContent, StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.Contains("as it was when it last answered", cut.Find("[data-testid=workers-unavailable]").TextContent, StringComparison.Ordinal);
        Assert.Equal(2, cut.FindAll("[data-testid=worker-row]").Count);
        await cut.Find($"[data-testid=worker-row][data-worker-id='{first.WorkerId}']").Closest("tr")!.QuerySelector("[data-testid=worker-drain]")!.ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.StartsWith("Nothing changed.", cut.Find("[data-testid=workers-message]").TextContent.Trim(), StringComparison.Ordinal));
        Assert.False(first.Status().Draining);

        directory.Down = false;
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid=workers-unavailable]")), TimeSpan.FromSeconds(10));
        Assert.Equal(2, cut.FindAll("[data-testid=worker-row]").Count);
    }

    [Fact]
    public async Task The_page_shows_every_worker_live_and_a_drained_worker_gets_no_job_until_resumed()
    {
        var workers = host.Services.GetRequiredService<JobWorkers>().Workers;
        var (first, second) = (workers[0], workers[1]);
        await using var ctx = NewContext();
        var cut = ctx.Render<AdminWorkers>();
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=worker-row]").Count));
        Assert.Equal(nameof(WorkerState.Idle), StateOf(cut, first.WorkerId));
        Assert.Contains("fake:0", cut.Markup, StringComparison.Ordinal);
        Assert.Contains("fake:1", cut.Markup, StringComparison.Ordinal);

        // Drain the first: its button becomes Resume, the dispatcher sends the next job to the other worker.
        await cut.Find($"[data-testid=worker-row][data-worker-id='{first.WorkerId}']").Closest("tr")!.QuerySelector("[data-testid=worker-drain]")!.ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Equal(nameof(WorkerState.Draining), StateOf(cut, first.WorkerId)));
        Assert.NotNull(cut.Find($"[data-testid=worker-row][data-worker-id='{first.WorkerId}']").Closest("tr")!.QuerySelector("[data-testid=worker-resume]"));
        var hold = ((FakeImageGenerator)second.Generator).HoldNextJob(step: 1);
        var ada = await host.CreateUserAsync("ada@example.com");
        var job = (await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("while drained"))).JobIds.Single();
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(20));

        // Live: the running job shows without a click.
        cut.WaitForAssertion(() => Assert.Equal(nameof(WorkerState.Running), StateOf(cut, second.WorkerId)), TimeSpan.FromSeconds(15));
        Assert.Contains(job.ToString(), cut.Find($"[data-testid=worker-row][data-worker-id='{second.WorkerId}']").Closest("tr")!.TextContent, StringComparison.Ordinal);
        Assert.Empty(((FakeImageGenerator)first.Generator).Started);
        hold.Release();
        Assert.Equal(JobState.Succeeded, (await host.WaitForEndAsync(job)).State);

        await cut.Find($"[data-testid=worker-row][data-worker-id='{first.WorkerId}']").Closest("tr")!.QuerySelector("[data-testid=worker-resume]")!.ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Equal(nameof(WorkerState.Idle), StateOf(cut, first.WorkerId)));
        Assert.Contains("takes jobs again", cut.Find("[data-testid=workers-message]").TextContent, StringComparison.Ordinal);

        var audited = await host.WithDbAsync(db => db.AuditEvents.Where(e => e.Action == "admin-change").OrderBy(e => e.Id).Select(e => new { e.ActorId, e.Detail }).ToListAsync());
        Assert.Equal([$"Drained worker {first.WorkerId}: it finishes its current job and takes no more.", $"Resumed worker {first.WorkerId}."], audited.Select(a => a.Detail));
        Assert.All(audited, a => Assert.Equal(admin.UserId, a.ActorId));
    }

    [Fact]
    public async Task A_user_who_is_not_an_administrator_gets_nothing_from_the_service()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        var workers = host.Services.GetRequiredService<WorkerAdministration>();

        await Assert.ThrowsAsync<AdminAccessDeniedException>(() => workers.ListAsync(Application.Audit.ChangeActor.Ui(ada.UserId)));
        await Assert.ThrowsAsync<AdminAccessDeniedException>(() => workers.SetDrainingAsync(Application.Audit.ChangeActor.Ui(ada.UserId), host.Services.GetRequiredService<JobWorkers>().Workers[0].WorkerId, true));
        Assert.False(host.Services.GetRequiredService<JobWorkers>().Workers[0].Status().Draining);
    }
}
