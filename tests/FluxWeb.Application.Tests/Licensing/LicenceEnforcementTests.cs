using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Jobs;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Application.Tests.Licensing;

/// <summary>The licence policy at the queue's doors: submission, the worker before it runs, and reuse of outputs as inputs.</summary>
public sealed class LicenceEnforcementTests : IAsyncLifetime
{
    private readonly TempFolder folder = new("fluxweb-licence");
    private readonly FakeImageGenerator engine = new();
    private QueueHost host = default!;

    public async Task InitializeAsync() => host = await QueueHost.StartAsync(folder.Path, engine);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    [Fact]
    public async Task A_commercial_account_cannot_queue_a_non_commercial_model()
    {
        var commercial = await host.CreateUserAsync("corp@example.com", accountType: AccountType.Commercial);

        var refused = await host.Generation.SubmitAsync(commercial.UserId, QueueHost.Request("x", model: QueueHost.OtherModelId));
        var allowed = await host.Generation.SubmitAsync(commercial.UserId, QueueHost.Request("x", model: QueueHost.ModelId));

        Assert.False(refused.Accepted);
        Assert.True(refused.LicenceRefused);
        Assert.Contains("FLUX-Non-Commercial", refused.Error, StringComparison.Ordinal);
        Assert.Equal(0, await host.WithDbAsync(db => db.Jobs.CountAsync(j => j.OwnerId == commercial.UserId && j.Settings.ModelId == QueueHost.OtherModelId)));
        Assert.True(allowed.Accepted);
    }

    [Fact]
    public async Task A_job_queued_while_non_commercial_is_refused_at_run_time_after_the_account_became_commercial()
    {
        var user = await host.CreateUserAsync("artist@example.com", accountType: AccountType.NonCommercial);
        var hold = engine.HoldNextJob(step: 1);
        var blocker = (await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("first", model: QueueHost.ModelId))).JobIds.Single();
        await hold.Reached;
        var waiting = (await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("second", model: QueueHost.OtherModelId))).JobIds.Single();

        await host.WithDbAsync(db => db.Users.Where(u => u.Id == user.UserId).ExecuteUpdateAsync(set => set.SetProperty(u => u.AccountType, AccountType.Commercial)));
        hold.Release();
        await host.WaitForEndAsync(blocker);
        var job = await host.WaitForEndAsync(waiting);

        Assert.Equal(JobState.Failed, job.State);
        Assert.Contains("licensed for commercial use", job.Error, StringComparison.Ordinal);
        Assert.Null(job.OutputImageId);
        Assert.Contains(engine.Completed, g => g.Prompt == "first");
        Assert.DoesNotContain(engine.Started, g => g.Prompt == "second");
    }

    [Fact]
    public async Task A_non_commercial_output_cannot_be_reused_as_a_reference_by_a_commercial_account()
    {
        var user = await host.CreateUserAsync("switcher@example.com", accountType: AccountType.NonCommercial);
        var made = await host.WaitForEndAsync((await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("nc output", model: QueueHost.OtherModelId))).JobIds.Single());
        await host.WithDbAsync(db => db.Users.Where(u => u.Id == user.UserId).ExecuteUpdateAsync(set => set.SetProperty(u => u.AccountType, AccountType.Commercial)));

        var reuse = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("reuse", model: QueueHost.ModelId).With(s => s with { ReferenceImageIds = [made.OutputImageId!.Value] }));

        Assert.True(reuse.LicenceRefused);
        Assert.Contains("use images made by klein-test-nc as input", reuse.Error, StringComparison.Ordinal);
        var gate = host.Services.GetRequiredService<LicenceGate>();
        var image = await host.WithDbAsync(db => db.Images.SingleAsync(i => i.Id == made.OutputImageId));
        Assert.False((await gate.MayReceiveAsync(user.UserId, false, image, LicencedAction.Download)).Allowed);
        Assert.True((await gate.MayReceiveAsync("admin", true, image, LicencedAction.View)).Allowed);
    }
}
