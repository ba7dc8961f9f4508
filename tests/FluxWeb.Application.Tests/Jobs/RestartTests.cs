using FluxWeb.Domain.Jobs;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Tests.Jobs;

/// <summary>The queue lives in the database: what a stop or a crash leaves behind runs once more, and nothing twice.</summary>
public class RestartTests : IDisposable
{
    /// <summary>The database these scenarios run on; a subclass runs them all again on the other.</summary>
    protected virtual TestDatabaseProvider Database => TestDatabaseProvider.Sqlite;

    private readonly TempFolder folder = new("fluxweb-restart");

    public void Dispose() => folder.Dispose();

    [Fact]
    public async Task A_job_interrupted_by_disposing_the_host_runs_once_after_restart_and_queued_jobs_survive()
    {
        var firstEngine = new FakeImageGenerator();
        var hold = firstEngine.HoldNextJob(step: 2);
        Guid[] ids;
        string owner;
        await using (var first = await QueueHost.StartAsync(folder.Path, firstEngine, database: Database))
        {
            owner = (await first.CreateUserAsync("ada@example.com")).UserId;
            ids = [.. (await first.Generation.SubmitAsync(owner, QueueHost.Request("survivor", count: 3))).JobIds];
            await hold.Reached.WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.Empty(firstEngine.Completed);
        var secondEngine = new FakeImageGenerator();
        await using var second = await QueueHost.StartAsync(folder.Path, secondEngine, database: Database);
        var jobs = await Task.WhenAll(ids.Select(id => second.WaitForEndAsync(id)));

        Assert.All(jobs, j => Assert.Equal(JobState.Succeeded, j.State));
        Assert.Equal(3, secondEngine.Completed.Count);
        Assert.Equal(3, secondEngine.Completed.Select(r => r.Seed).Distinct().Count());
        Assert.Equal(3, await second.WithDbAsync(db => db.Images.CountAsync(i => i.OwnerId == owner)));
        // The interrupted run was the server's doing, not the job's: it does not use up an attempt.
        Assert.All(jobs, j => Assert.Equal(1, j.Attempts));
    }

    [Fact]
    public async Task A_job_a_crash_left_running_is_queued_again_once_then_failed_with_the_reason()
    {
        Guid retried;
        Guid givenUp;
        string owner;
        await using (var setup = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), worker: false, database: Database))
        {
            owner = (await setup.CreateUserAsync("ada@example.com")).UserId;
            var result = await setup.Generation.SubmitAsync(owner, QueueHost.Request("crashy", count: 2));
            (retried, givenUp) = (result.JobIds[0], result.JobIds[1]);
            // What a crash leaves: rows claimed by a worker that never wrote how they ended.
            await setup.WithDbAsync(db => db.Jobs.Where(j => j.Id == retried)
                .ExecuteUpdateAsync(s => s.SetProperty(j => j.State, JobState.Running).SetProperty(j => j.Attempts, 1).SetProperty(j => j.StartedUtc, DateTime.UtcNow)));
            await setup.WithDbAsync(db => db.Jobs.Where(j => j.Id == givenUp)
                .ExecuteUpdateAsync(s => s.SetProperty(j => j.State, JobState.Running).SetProperty(j => j.Attempts, 2).SetProperty(j => j.StartedUtc, DateTime.UtcNow)));
        }

        var engine = new FakeImageGenerator();
        await using var restarted = await QueueHost.StartAsync(folder.Path, engine, database: Database);

        var again = await restarted.WaitForEndAsync(retried);
        var failed = await restarted.WaitForEndAsync(givenUp);
        Assert.Equal((JobState.Succeeded, 2), (again.State, again.Attempts));
        Assert.Equal(JobState.Failed, failed.State);
        Assert.Equal("The server stopped unexpectedly 2 times while this job was running, so it was not tried again.", failed.Error);
        Assert.Single(engine.Completed);
        // The failed job gave its image back to the quota.
        Assert.Equal(1, await restarted.WithDbAsync(db => db.DailyUsage.Where(u => u.UserId == owner).SumAsync(u => u.Images)));
    }
}

/// <summary>The same scenarios on PostgreSQL, the database several processes share.</summary>
public sealed class RestartTestsOnPostgreSql : RestartTests
{
    protected override TestDatabaseProvider Database => TestDatabaseProvider.PostgreSql;
}
