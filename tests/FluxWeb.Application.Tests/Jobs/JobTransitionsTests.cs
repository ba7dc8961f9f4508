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

    private static readonly DateTime LeaseUntil = Now.AddSeconds(30);

    /// <summary>The epoch every test row is at: the one its (pretend) worker claimed.</summary>
    private const long CurrentEpoch = 1;

    private static JobLease Lease(Guid id, long epoch = CurrentEpoch) => new(id, "box/1/cpu", epoch);

    private readonly TempFolder folder = new("fluxweb-transitions");
    private QueueHost host = default!;
    private JobActor ada = default!;

    /// <summary>How each transition is made, with arguments a test can check.</summary>
    private static readonly Dictionary<JobTransition, Func<FluxWebDbContext, Guid, Task<bool>>> Make = new()
    {
        [JobTransitions.Claim] = async (db, id) => await JobTransitions.ClaimAsync(db, id, "box/2/cpu", Now, LeaseUntil, default) is not null,
        [JobTransitions.CancelWaiting] = (db, id) => JobTransitions.CancelWaitingAsync(db, id, "someone", "Cancelled by you.", Now, default),
        [JobTransitions.RequestCancel] = (db, id) => JobTransitions.RequestCancelAsync(db, id, "someone", default),
        [JobTransitions.RecordProgress] = (db, id) => JobTransitions.RecordProgressAsync(db, Lease(id), 3, 4, default),
        [JobTransitions.RenewLease] = (db, id) => JobTransitions.RenewLeaseAsync(db, Lease(id), LeaseUntil, default),
        [JobTransitions.Succeed] = (db, id) => JobTransitions.SucceedAsync(db, Lease(id), Guid.NewGuid(), 1.5, Now, null, default),
        [JobTransitions.Fail] = (db, id) => JobTransitions.EndAsync(db, Lease(id), JobState.Failed, "broken", 1.5, Now, default),
        [JobTransitions.CancelRunning] = (db, id) => JobTransitions.EndAsync(db, Lease(id), JobState.Cancelled, "Cancelled by you.", 1.5, Now, default),
        [JobTransitions.Requeue] = (db, id) => JobTransitions.RequeueAsync(db, Lease(id), default),
        [JobTransitions.Reclaim] = (db, id) => JobTransitions.ReclaimAsync(db, id, CurrentEpoch, null, default),
        [JobTransitions.GiveUp] = (db, id) => JobTransitions.GiveUpAsync(db, id, CurrentEpoch, null, "crashed", Now, default),
    };

    /// <summary>The same writes made by a worker (or a reclaimer) that holds an epoch the job has left behind.</summary>
    private static readonly Dictionary<JobTransition, Func<FluxWebDbContext, Guid, Task<bool>>> MakeStale = new()
    {
        [JobTransitions.RecordProgress] = (db, id) => JobTransitions.RecordProgressAsync(db, Lease(id, CurrentEpoch - 1), 3, 4, default),
        [JobTransitions.RenewLease] = (db, id) => JobTransitions.RenewLeaseAsync(db, Lease(id, CurrentEpoch - 1), LeaseUntil, default),
        [JobTransitions.Succeed] = (db, id) => JobTransitions.SucceedAsync(db, Lease(id, CurrentEpoch - 1), Guid.NewGuid(), 1.5, Now, null, default),
        [JobTransitions.Fail] = (db, id) => JobTransitions.EndAsync(db, Lease(id, CurrentEpoch - 1), JobState.Failed, "broken", 1.5, Now, default),
        [JobTransitions.CancelRunning] = (db, id) => JobTransitions.EndAsync(db, Lease(id, CurrentEpoch - 1), JobState.Cancelled, "Cancelled by you.", 1.5, Now, default),
        [JobTransitions.Requeue] = (db, id) => JobTransitions.RequeueAsync(db, Lease(id, CurrentEpoch - 1), default),
        [JobTransitions.Reclaim] = (db, id) => JobTransitions.ReclaimAsync(db, id, CurrentEpoch - 1, null, default),
        [JobTransitions.GiveUp] = (db, id) => JobTransitions.GiveUpAsync(db, id, CurrentEpoch - 1, null, "crashed", Now, default),
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
    public async Task Every_write_bound_to_an_epoch_is_refused_under_an_older_one()
    {
        // Every transition out of Running except the cancel request, which an owner makes, not a worker.
        Assert.Equal(
            JobTransitions.All.Where(t => t.From == JobState.Running && t != JobTransitions.RequestCancel).ToHashSet(),
            MakeStale.Keys.ToHashSet());
        foreach (var (transition, make) in MakeStale)
        {
            var id = await AddJobAsync(JobState.Running);
            var before = await host.JobAsync(id);

            var changed = await host.WithDbAsync(db => make(db, id));

            var after = await host.JobAsync(id);
            Assert.False(changed, $"{transition.Name} under a stale epoch changed the job");
            Assert.Equal(
                (JobState.Running, before.Step, before.LeaseExpiresUtc, before.WorkerId, before.Epoch, before.OutputImageId),
                (after.State, after.Step, after.LeaseExpiresUtc, after.WorkerId, after.Epoch, after.OutputImageId));
        }
    }

    [Fact]
    public async Task Each_claim_takes_the_next_epoch_and_the_lease_and_only_one_of_two_claims_wins()
    {
        var id = await AddJobAsync(JobState.Queued);

        var first = await host.WithDbAsync(db => JobTransitions.ClaimAsync(db, id, "box/1/cpu", Now, LeaseUntil, default));
        var row = await host.JobAsync(id);
        Assert.Equal(new JobLease(id, "box/1/cpu", CurrentEpoch + 1), first);
        Assert.Equal(("box/1/cpu", CurrentEpoch + 1, (DateTime?)LeaseUntil), (row.WorkerId, row.Epoch, row.LeaseExpiresUtc));

        // Running now: a second worker's claim loses.
        Assert.Null(await host.WithDbAsync(db => JobTransitions.ClaimAsync(db, id, "box/2/cpu", Now, LeaseUntil, default)));

        Assert.True(await host.WithDbAsync(db => JobTransitions.ReclaimAsync(db, id, first!.Epoch, null, default)));
        var reclaimed = await host.JobAsync(id);
        Assert.Equal((JobState.Queued, (string?)null, (DateTime?)null, 1), (reclaimed.State, reclaimed.WorkerId, reclaimed.LeaseExpiresUtc, reclaimed.Attempts));

        var second = await host.WithDbAsync(db => JobTransitions.ClaimAsync(db, id, "box/2/cpu", Now.AddMinutes(1), LeaseUntil.AddMinutes(1), default));
        Assert.Equal(new JobLease(id, "box/2/cpu", CurrentEpoch + 2), second);
        Assert.Equal(2, (await host.JobAsync(id)).Attempts);

        // The first worker's lease is stale now: its renewal answers "lost", and the second worker's holds.
        Assert.False(await host.WithDbAsync(db => JobTransitions.RenewLeaseAsync(db, first!, LeaseUntil.AddMinutes(5), default)));
        Assert.True(await host.WithDbAsync(db => JobTransitions.RenewLeaseAsync(db, second!, LeaseUntil.AddMinutes(5), default)));
        Assert.Equal(LeaseUntil.AddMinutes(5), (await host.JobAsync(id)).LeaseExpiresUtc);
    }

    [Fact]
    public async Task Taking_back_an_expired_lease_is_refused_once_a_renewal_has_moved_it_past_now()
    {
        var renewed = await AddJobAsync(JobState.Running);
        var passed = await AddJobAsync(JobState.Running);

        // The sweeper read both as expired at LeaseUntil + 1 s; meanwhile one worker renewed its lease.
        await host.WithDbAsync(db => JobTransitions.RenewLeaseAsync(db, Lease(renewed), LeaseUntil.AddSeconds(30), default));

        Assert.False(await host.WithDbAsync(db => JobTransitions.ReclaimAsync(db, renewed, CurrentEpoch, LeaseUntil.AddSeconds(1), default)));
        Assert.False(await host.WithDbAsync(db => JobTransitions.GiveUpAsync(db, renewed, CurrentEpoch, LeaseUntil.AddSeconds(1), "crashed", Now, default)));
        Assert.True(await host.WithDbAsync(db => JobTransitions.ReclaimAsync(db, passed, CurrentEpoch, LeaseUntil.AddSeconds(1), default)));
        Assert.Equal((JobState.Running, JobState.Queued), ((await host.JobAsync(renewed)).State, (await host.JobAsync(passed)).State));
    }

    [Fact]
    public async Task A_claim_refuses_a_lease_that_ends_before_it_starts_and_a_worker_without_a_name()
    {
        var id = await AddJobAsync(JobState.Queued);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => host.WithDbAsync(db => JobTransitions.ClaimAsync(db, id, "box/1/cpu", Now, Now, default)));
        await Assert.ThrowsAsync<ArgumentException>(() => host.WithDbAsync(db => JobTransitions.ClaimAsync(db, id, " ", Now, LeaseUntil, default)));
        Assert.Equal((JobState.Queued, CurrentEpoch), ((await host.JobAsync(id)).State, (await host.JobAsync(id)).Epoch));
    }

    [Fact]
    public async Task The_writes_that_come_with_a_transition_are_made_with_it()
    {
        var claimed = await AddJobAsync(JobState.Queued, attempts: 1);
        var requeued = await AddJobAsync(JobState.Running, attempts: 2);
        var succeeded = await AddJobAsync(JobState.Running);
        var output = Guid.NewGuid();

        await host.WithDbAsync(db => JobTransitions.ClaimAsync(db, claimed, "box/1/cpu", Now, LeaseUntil, default));
        await host.WithDbAsync(db => JobTransitions.RequeueAsync(db, Lease(requeued), default));
        await host.WithDbAsync(db => JobTransitions.SucceedAsync(db, Lease(succeeded), output, 2.5, Now, null, default));

        var claim = await host.JobAsync(claimed);
        Assert.Equal((2, (DateTime?)Now, 0), (claim.Attempts, claim.StartedUtc, claim.Step));
        var requeue = await host.JobAsync(requeued);
        Assert.Equal((1, (DateTime?)null, (string?)null, (DateTime?)null), (requeue.Attempts, requeue.StartedUtc, requeue.WorkerId, requeue.LeaseExpiresUtc));
        var success = await host.JobAsync(succeeded);
        Assert.Equal(((Guid?)output, 2.5, 4, (DateTime?)Now, (DateTime?)null), (success.OutputImageId, success.GpuSeconds, success.Step, success.FinishedUtc, success.LeaseExpiresUtc));
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
            Epoch = CurrentEpoch,
            WorkerId = state == JobState.Running ? "box/1/cpu" : null,
            LeaseExpiresUtc = state == JobState.Running ? LeaseUntil : null,
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
