using FluxWeb.Application.Scheduling;
using FluxWeb.Domain.Jobs;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace FluxWeb.Application.Tests.Scheduling;

/// <summary>
/// The usage the fair order counts for running jobs (issue 18's chaos run): a job "running" on a worker that was killed
/// must not keep charging its owner until the cluster notices, or the owner is passed over for several turns.
/// The queue's default lease here: 30 s, renewed every 10 s.
/// </summary>
public sealed class SchedulingSnapshotReaderTests : IAsyncLifetime
{
    private readonly TempFolder folder = new("fluxweb-usage");
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero));
    private QueueHost host = null!;

    private DateTime Now => time.GetUtcNow().UtcDateTime;

    public async Task InitializeAsync() => host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), time: time, worker: false);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    /// <summary>Ada's first job runs since 20 s ago on a worker that last renewed its lease 18 s ago (then died); Bob used 5 s.</summary>
    private async Task<(string Ada, string Bob)> ArrangeAsync(double adasEstimate, double? earlierJobSeconds)
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        var bob = await host.CreateUserAsync("bob@example.com");
        var carol = await host.CreateUserAsync("carol@example.com");
        var adas = (await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("ada", count: 2))).JobIds;
        var bobs = (await host.Generation.SubmitAsync(bob.UserId, QueueHost.Request("bob", count: 2))).JobIds;
        var carols = (await host.Generation.SubmitAsync(carol.UserId, QueueHost.Request("carol"))).JobIds;
        await host.WithDbAsync(async db =>
        {
            var running = await db.Jobs.SingleAsync(j => j.Id == adas[0]);
            running.State = JobState.Running;
            running.StartedUtc = Now.AddSeconds(-20);
            running.LeaseExpiresUtc = Now.AddSeconds(-18 + 30);
            running.WorkerId = "killed-node/cpu:0";
            running.Epoch = 1;
            running.EstimatedGpuSeconds = adasEstimate;
            var done = await db.Jobs.SingleAsync(j => j.Id == bobs[0]);
            (done.State, done.StartedUtc, done.FinishedUtc, done.GpuSeconds) = (JobState.Succeeded, Now.AddSeconds(-12), Now.AddSeconds(-7), 5);
            // Outside the fairness window: only what a job of this model and size costs.
            var earlier = await db.Jobs.SingleAsync(j => j.Id == carols[0]);
            if (earlierJobSeconds is { } seconds)
            {
                (earlier.State, earlier.StartedUtc, earlier.FinishedUtc, earlier.GpuSeconds) = (JobState.Succeeded, Now.AddHours(-2), Now.AddHours(-2), seconds);
            }
            else
            {
                db.Jobs.Remove(earlier);
            }

            return await db.SaveChangesAsync();
        });
        return (ada.UserId, bob.UserId);
    }

    private Task<SchedulingSnapshot> ReadAsync() => host.Services.GetRequiredService<SchedulingSnapshotReader>().ReadAsync(CancellationToken.None);

    [Fact]
    public async Task A_running_job_counts_no_more_than_its_estimate_so_a_killed_workers_job_weighs_one_job()
    {
        var (ada, bob) = await ArrangeAsync(adasEstimate: 2, earlierJobSeconds: null);

        var snapshot = await ReadAsync();

        Assert.Equal(2, snapshot.UsageOf(ada).RecentGpuSeconds, 3);
        Assert.Equal(ada, FairSchedulingPolicy.UsersInTurnOrder(snapshot)[0]);
        Assert.Equal(5, snapshot.UsageOf(bob).RecentGpuSeconds, 3);
    }

    [Fact]
    public async Task Without_a_stored_estimate_a_running_job_counts_no_more_than_the_models_measured_cost()
    {
        // Bob's 5 s and the earlier 1 s job, both of this size: 3 s a job.
        var (ada, _) = await ArrangeAsync(adasEstimate: 0, earlierJobSeconds: 1);

        var snapshot = await ReadAsync();

        Assert.Equal(3, snapshot.UsageOf(ada).RecentGpuSeconds, 3);
        Assert.Equal(ada, FairSchedulingPolicy.UsersInTurnOrder(snapshot)[0]);
    }

    [Fact]
    public async Task With_nothing_to_estimate_by_a_running_job_counts_until_one_renewal_after_its_worker_last_renewed()
    {
        var (ada, _) = await ArrangeAsync(adasEstimate: 0, earlierJobSeconds: null);
        await host.WithDbAsync(async db => await db.Jobs.Where(j => j.State == JobState.Succeeded).ExecuteDeleteAsync());

        var snapshot = await ReadAsync();

        // Started 20 s ago, last renewed 18 s ago: 2 s, plus the 10 s a live worker has until its next renewal.
        Assert.Equal(12, snapshot.UsageOf(ada).RecentGpuSeconds, 3);
    }

    [Fact]
    public async Task A_job_running_on_a_live_worker_counts_its_elapsed_time_as_on_one_box()
    {
        var (ada, _) = await ArrangeAsync(adasEstimate: 60, earlierJobSeconds: null);
        await host.WithDbAsync(db => db.Jobs.Where(j => j.State == JobState.Running).ExecuteUpdateAsync(s => s.SetProperty(j => j.LeaseExpiresUtc, Now.AddSeconds(-2 + 30))));

        var snapshot = await ReadAsync();

        Assert.Equal(20, snapshot.UsageOf(ada).RecentGpuSeconds, 3);
    }
}
