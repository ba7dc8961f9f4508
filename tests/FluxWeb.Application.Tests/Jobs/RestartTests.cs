using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Jobs;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Time.Testing;

namespace FluxWeb.Application.Tests.Jobs;

/// <summary>
/// The queue lives in the database: what a stop or a crash leaves behind runs once more, and nothing twice. Each
/// scenario on both queue topologies; a restart stops every silo and starts them all again on the same database.
/// </summary>
public sealed class RestartTests : IDisposable
{
    private readonly TempFolder folder = new("fluxweb-restart");

    public void Dispose() => folder.Dispose();

    [Theory]
    [QueueTopologies]
    public async Task A_job_interrupted_by_disposing_the_host_runs_once_after_restart_and_queued_jobs_survive(QueueTopology topology)
    {
        var firstEngine = new FakeImageGenerator();
        var hold = firstEngine.HoldNextJob(step: 2);
        Guid[] ids;
        string owner;
        await using (var first = await QueueCluster.StartAsync(topology, folder.Path, firstEngine))
        {
            owner = (await first.CreateUserAsync("ada@example.com")).UserId;
            ids = [.. (await first.Generation.SubmitAsync(owner, QueueHost.Request("survivor", count: 3))).JobIds];
            await hold.Reached.WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.Empty(firstEngine.Completed);
        var secondEngine = new FakeImageGenerator();
        await using var second = await QueueCluster.StartAsync(topology, folder.Path, secondEngine);
        var jobs = await Task.WhenAll(ids.Select(id => second.WaitForEndAsync(id)));

        Assert.All(jobs, j => Assert.Equal(JobState.Succeeded, j.State));
        Assert.Equal(3, secondEngine.Completed.Count);
        Assert.Equal(3, secondEngine.Completed.Select(r => r.Seed).Distinct().Count());
        Assert.Equal(3, await second.WithDbAsync(db => db.Images.CountAsync(i => i.OwnerId == owner)));
        // The interrupted run was the server's doing, not the job's: it does not use up an attempt.
        Assert.All(jobs, j => Assert.Equal(1, j.Attempts));
    }

    [Theory]
    [QueueTopologies]
    public async Task A_job_a_crash_left_running_is_queued_again_once_then_failed_with_the_reason(QueueTopology topology)
    {
        Guid retried;
        Guid givenUp;
        Guid elsewhere;
        string owner;
        await using (var setup = await QueueCluster.StartAsync(topology, folder.Path, new FakeImageGenerator(), worker: false))
        {
            owner = (await setup.CreateUserAsync("ada@example.com")).UserId;
            var result = await setup.Generation.SubmitAsync(owner, QueueHost.Request("crashy", count: 3));
            (retried, givenUp, elsewhere) = (result.JobIds[0], result.JobIds[1], result.JobIds[2]);
            // What a crash leaves: rows claimed by a worker that never wrote how they ended, whose leases have passed.
            await LeaseAsync(setup, retried, attempts: 1, "crashed-box/41/cpu", DateTime.UtcNow.AddSeconds(-1));
            await LeaseAsync(setup, givenUp, attempts: 2, "crashed-box/41/cpu", DateTime.UtcNow.AddSeconds(-1));
            // And a job another node is running right now: its lease holds, so it is not this process's to take.
            await LeaseAsync(setup, elsewhere, attempts: 1, "other-box/7/cuda:0", DateTime.UtcNow.AddHours(1));
        }

        var engine = new FakeImageGenerator();
        await using var restarted = await QueueCluster.StartAsync(topology, folder.Path, engine);

        var again = await restarted.WaitForEndAsync(retried);
        var failed = await restarted.WaitForEndAsync(givenUp);
        Assert.Equal((JobState.Succeeded, 2), (again.State, again.Attempts));
        Assert.Equal(JobState.Failed, failed.State);
        Assert.Equal("The server stopped unexpectedly 2 times while this job was running, so it was not tried again.", failed.Error);
        Assert.Single(engine.Completed);
        // The failed job gave its image back to the quota; the other node's job still holds its own.
        Assert.Equal(2, await restarted.WithDbAsync(db => db.DailyUsage.Where(u => u.UserId == owner).SumAsync(u => u.Images)));
        var untouched = await restarted.JobAsync(elsewhere);
        Assert.Equal((JobState.Running, "other-box/7/cuda:0", 1L, 1), (untouched.State, untouched.WorkerId, untouched.Epoch, untouched.Attempts));
        Assert.Contains(restarted.Logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains($"Job {givenUp} taken back from worker crashed-box/41/cpu (epoch 1) after 2 attempts", StringComparison.Ordinal));
    }

    [Theory]
    [QueueTopologies]
    public async Task A_box_that_crashed_gets_its_running_job_back_once_its_lease_has_passed_not_at_start(QueueTopology topology)
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));
        var crashedAt = clock.GetUtcNow().UtcDateTime;
        var lease = TimeSpan.FromSeconds(30);
        Guid id;
        Guid expired;
        await using (var setup = await QueueCluster.StartAsync(topology, folder.Path, new FakeImageGenerator(), time: clock, worker: false))
        {
            var owner = (await setup.CreateUserAsync("ada@example.com")).UserId;
            var jobs = (await setup.Generation.SubmitAsync(owner, QueueHost.Request("crashed a moment ago", count: 2))).JobIds;
            (id, expired) = (jobs[0], jobs[1]);
            // This very box's worker held it when the box went down: its last renewal was a moment ago.
            await LeaseAsync(setup, id, attempts: 1, JobWorkerIds.ForDevice("127.0.0.1:11111@1", "cpu"), crashedAt + lease);
            // One whose lease had already passed: taken back by the first sweep, which shows that sweep has run.
            await LeaseAsync(setup, expired, attempts: 1, JobWorkerIds.ForDevice("127.0.0.1:11111@1", "cpu"), crashedAt.AddSeconds(-1));
        }

        var engine = new FakeImageGenerator();
        await using var restarted = await QueueCluster.StartAsync(topology, folder.Path, engine, time: clock);
        Assert.Equal(JobState.Succeeded, (await restarted.WaitForEndAsync(expired)).State);

        // Up to the lease's end the job is left alone (the sweeper looks at start and every 10 s of the clock).
        for (var passed = TimeSpan.Zero; passed < lease; passed += TimeSpan.FromSeconds(2))
        {
            var job = await restarted.JobAsync(id);
            Assert.True(job.State == JobState.Running && job.Epoch == 1, $"At +{passed.TotalSeconds} s the job is {job.State} (epoch {job.Epoch}).");
            clock.Advance(TimeSpan.FromSeconds(2));
        }

        // Past it, the next sweep takes it back and the worker runs it. Sweeps come a third of a lease apart, counted from
        // the end of the previous sweep on this clock, which the test moves on while a sweep runs: so the next one may come
        // up to one more period late in these fake seconds (three silos on PostgreSQL under load showed it), never sooner
        // than the lease's end (checked above).
        var sweepPeriod = lease / 3;
        Job? last = null;
        await Eventually.Until(
            async () =>
            {
                last = await restarted.JobAsync(id);
                if (last.State.IsFinished())
                {
                    return true;
                }

                if (clock.GetUtcNow().UtcDateTime < crashedAt + lease + (2 * sweepPeriod))
                {
                    clock.Advance(TimeSpan.FromSeconds(1));
                }

                return false;
            },
            () => $"the job is taken back and run within two sweeps after the lease passed (it is {last?.State}, epoch {last?.Epoch}, at +{(clock.GetUtcNow().UtcDateTime - crashedAt).TotalSeconds} s)");
        var done = await restarted.JobAsync(id);
        Assert.Equal((JobState.Succeeded, 2, 2L), (done.State, done.Attempts, done.Epoch));
        Assert.Equal(2, engine.Completed.Count);
    }

    /// <summary>Writes what a worker's claim leaves on a row, as if it had claimed the job and then gone away.</summary>
    private static Task<int> LeaseAsync(QueueCluster host, Guid id, int attempts, string workerId, DateTime leaseUntil) =>
        host.WithDbAsync(db => db.Jobs.Where(j => j.Id == id).ExecuteUpdateAsync(s => s
            .SetProperty(j => j.State, JobState.Running)
            .SetProperty(j => j.Attempts, attempts)
            .SetProperty(j => j.StartedUtc, leaseUntil.AddSeconds(-30))
            .SetProperty(j => j.WorkerId, workerId)
            .SetProperty(j => j.Epoch, 1L)
            .SetProperty(j => j.LeaseExpiresUtc, leaseUntil)));
}
