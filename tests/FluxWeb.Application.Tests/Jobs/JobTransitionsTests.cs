using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Tests.Jobs;

public class JobTransitionsTests : IAsyncLifetime
{
    /// <summary>The database these scenarios run on; a subclass runs them all again on the other.</summary>
    protected virtual TestDatabaseProvider Database => TestDatabaseProvider.Sqlite;

    private static readonly DateTime Now = new(2026, 12, 4, 12, 0, 0, DateTimeKind.Utc);

    private readonly TempFolder folder = new("fluxweb-transitions");
    private QueueHost host = default!;
    private JobActor ada = default!;

    /// <summary>How each transition is made, with arguments a test can check.</summary>
    private static readonly Dictionary<JobTransition, Func<FluxWebDbContext, Guid, Task<bool>>> Make = new()
    {
        [JobTransitions.Claim] = (db, id) => JobTransitions.ClaimAsync(db, id, Now, default),
        [JobTransitions.CancelWaiting] = (db, id) => JobTransitions.CancelWaitingAsync(db, id, "someone", "Cancelled by you.", Now, default),
        [JobTransitions.RequestCancel] = (db, id) => JobTransitions.RequestCancelAsync(db, id, "someone", default),
        [JobTransitions.RecordProgress] = (db, id) => JobTransitions.RecordProgressAsync(db, id, 3, 4, default),
        [JobTransitions.Succeed] = (db, id) => JobTransitions.SucceedAsync(db, id, Guid.NewGuid(), 1.5, Now, default),
        [JobTransitions.Fail] = (db, id) => JobTransitions.EndAsync(db, id, JobState.Failed, "broken", 1.5, Now, default),
        [JobTransitions.CancelRunning] = (db, id) => JobTransitions.EndAsync(db, id, JobState.Cancelled, "Cancelled by you.", 1.5, Now, default),
        [JobTransitions.Requeue] = (db, id) => JobTransitions.RequeueAsync(db, id, default),
        [JobTransitions.Recover] = (db, id) => JobTransitions.RecoverAsync(db, id, default),
        [JobTransitions.GiveUp] = (db, id) => JobTransitions.GiveUpAsync(db, id, "crashed", Now, default),
    };

    public async Task InitializeAsync()
    {
        host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), worker: false, database: Database);
        ada = await host.CreateUserAsync("ada@example.com");
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    [Fact]
    public void The_table_lists_every_transition_once_and_each_has_its_method()
    {
        Assert.Equal(JobTransitions.All.Count, JobTransitions.All.Distinct().Count());
        Assert.Equal(JobTransitions.All.ToHashSet(), Make.Keys.ToHashSet());
        Assert.All(JobTransitions.All, t => Assert.NotNull(typeof(JobTransitions).GetMethod(t.Name)));
        // Nothing leaves a finished state.
        Assert.DoesNotContain(JobTransitions.All, t => t.From.IsFinished());
    }

    [Fact]
    public async Task Each_transition_changes_a_job_only_from_its_own_state()
    {
        foreach (var transition in JobTransitions.All)
        {
            foreach (var state in Enum.GetValues<JobState>())
            {
                var id = await AddJobAsync(state);

                var changed = await host.WithDbAsync(db => Make[transition](db, id));

                var after = await host.JobAsync(id);
                var expected = state == transition.From;
                Assert.True(changed == expected, $"{transition.Name} from {state}: changed {changed}");
                Assert.Equal(expected ? transition.To : state, after.State);
            }
        }
    }

    [Fact]
    public async Task The_writes_that_come_with_a_transition_are_made_with_it()
    {
        var claimed = await AddJobAsync(JobState.Queued, attempts: 1);
        var requeued = await AddJobAsync(JobState.Running, attempts: 2);
        var succeeded = await AddJobAsync(JobState.Running);
        var output = Guid.NewGuid();

        await host.WithDbAsync(db => JobTransitions.ClaimAsync(db, claimed, Now, default));
        await host.WithDbAsync(db => JobTransitions.RequeueAsync(db, requeued, default));
        await host.WithDbAsync(db => JobTransitions.SucceedAsync(db, succeeded, output, 2.5, Now, default));

        var claim = await host.JobAsync(claimed);
        Assert.Equal((2, (DateTime?)Now, 0), (claim.Attempts, claim.StartedUtc, claim.Step));
        var requeue = await host.JobAsync(requeued);
        Assert.Equal((1, (DateTime?)null), (requeue.Attempts, requeue.StartedUtc));
        var success = await host.JobAsync(succeeded);
        Assert.Equal(((Guid?)output, 2.5, 4, (DateTime?)Now), (success.OutputImageId, success.GpuSeconds, success.Step, success.FinishedUtc));
    }

    private async Task<Guid> AddJobAsync(JobState state, int attempts = 0)
    {
        var job = new Job
        {
            Id = Guid.NewGuid(),
            OwnerId = ada.UserId,
            BatchId = Guid.NewGuid(),
            Settings = new GenerationSettings { ModelId = QueueHost.ModelId, Prompt = "p", Seed = 1 },
            ResolvedWidth = 64,
            ResolvedHeight = 64,
            ResolvedSteps = 4,
            TotalSteps = 4,
            State = state,
            Attempts = attempts,
            EnqueuedUtc = Now,
        };
        await host.WithDbAsync(async db =>
        {
            db.Jobs.Add(job);
            return await db.SaveChangesAsync();
        });
        return job.Id;
    }
}

/// <summary>The same scenarios on PostgreSQL, the database several processes share.</summary>
public sealed class JobTransitionsTestsOnPostgreSql : JobTransitionsTests
{
    protected override TestDatabaseProvider Database => TestDatabaseProvider.PostgreSql;
}
