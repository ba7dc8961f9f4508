using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Query;

namespace FluxWeb.Application.Jobs;

/// <summary>One guarded change of a job's row: allowed only while the job is in <see cref="From"/>.</summary>
/// <param name="Name">The method of <see cref="JobTransitions"/> that makes it.</param>
/// <param name="When">Who makes it, and why.</param>
public sealed record JobTransition(string Name, JobState From, JobState To, string When);

/// <summary>
/// Every change of a job's state, and every write to a job while it runs, in one place. Each is one
/// conditional <c>UPDATE … WHERE Id = @id AND State = @from</c> (<c>ExecuteUpdate</c>), so two
/// processes (the web app's worker, <c>fluxweb generate --user</c>, a cancel from another tab) can
/// race for a job and exactly one wins: the method answers whether this caller did. Callers that
/// must change more than the row (the quota ledger) pass a context inside their own transaction.
/// </summary>
/// <remarks>
/// A claim is a lease with an epoch (<see cref="JobLease"/>): the epoch goes up by one on every claim, and
/// every write a worker makes while the job runs also requires <c>Epoch = @epoch</c>, so a worker whose
/// lease was reclaimed (it hung, its process died) can neither record progress nor a result over the
/// worker that runs the job now. GPU work may run twice; a result is committed once. Reclaiming is
/// conditional on the epoch the reclaimer saw, so two reclaimers (two processes' sweepers) take a job back once.
/// The allowed transitions, as a table (<see cref="All"/>); nothing else writes <c>Jobs.State</c>:
/// <code>
/// transition        from     → to         made by                                                  epoch-bound
/// Claim             Queued   → Running    the worker picks the job (epoch +1, lease taken, attempt counted)
/// CancelWaiting     Queued   → Cancelled  an owner or administrator cancels a waiting job (image refunded)
/// RequestCancel     Running  → Running    the same for a running job: flagged, the engine stops it
/// RecordProgress    Running  → Running    the runner writes the step it reached (at most once a second)  lease
/// RenewLease        Running  → Running    the runner extends its lease (every third of Queue:LeaseDuration)  lease
/// Succeed           Running  → Succeeded  the runner stored the output (GPU time charged)                lease
/// End               Running  → Failed     the runner: refused at the GPU's door, engine failure, blocked output  lease
///                   Running  → Cancelled  … or cancelled while running (image refunded, GPU time charged)  lease
/// Requeue           Running  → Queued     the server stops mid-run (attempt not counted)                  lease
/// Reclaim           Running  → Queued     the lease expired or the worker's process died (attempts left)  seen
/// GiveUp            Running  → Failed     … the same, with no attempts left (image refunded)             seen
/// </code>
/// "lease": only under the epoch of the caller's claim; "seen": only under the epoch the reclaimer read (and, for an
/// expired lease, only while it has still passed: a renewal that arrived since keeps the job with its worker).
/// </remarks>
internal static class JobTransitions
{
    public static readonly JobTransition Claim = new(nameof(ClaimAsync), JobState.Queued, JobState.Running, "the worker picks the job: the epoch goes up, the lease is taken");
    public static readonly JobTransition CancelWaiting = new(nameof(CancelWaitingAsync), JobState.Queued, JobState.Cancelled, "an owner or administrator cancels a waiting job");
    public static readonly JobTransition RequestCancel = new(nameof(RequestCancelAsync), JobState.Running, JobState.Running, "an owner or administrator cancels a running job; the engine stops it");
    public static readonly JobTransition RecordProgress = new(nameof(RecordProgressAsync), JobState.Running, JobState.Running, "the runner writes the step the engine reached");
    public static readonly JobTransition RenewLease = new(nameof(RenewLeaseAsync), JobState.Running, JobState.Running, "the runner extends its lease while the job runs");
    public static readonly JobTransition Succeed = new(nameof(SucceedAsync), JobState.Running, JobState.Succeeded, "the runner stored the output");
    public static readonly JobTransition Fail = new(nameof(EndAsync), JobState.Running, JobState.Failed, "the runner: refused at the GPU's door, the engine failed, the output was blocked or not stored");
    public static readonly JobTransition CancelRunning = new(nameof(EndAsync), JobState.Running, JobState.Cancelled, "the runner: the engine stopped on a cancel");
    public static readonly JobTransition Requeue = new(nameof(RequeueAsync), JobState.Running, JobState.Queued, "the server stops while the job runs (the attempt does not count)");
    public static readonly JobTransition Reclaim = new(nameof(ReclaimAsync), JobState.Running, JobState.Queued, "the job's lease expired or its worker's process died, with attempts left");
    public static readonly JobTransition GiveUp = new(nameof(GiveUpAsync), JobState.Running, JobState.Failed, "the same, with no attempts left");

    /// <summary>The allowed transitions: the table in the remarks, as data.</summary>
    public static IReadOnlyList<JobTransition> All { get; } = [Claim, CancelWaiting, RequestCancel, RecordProgress, RenewLease, Succeed, Fail, CancelRunning, Requeue, Reclaim, GiveUp];

    /// <summary>
    /// Takes a waiting job for <paramref name="workerId"/> until <paramref name="leaseUntil"/>; null when another
    /// claimed or cancelled it first. The epoch is read and then required by the update, so of two workers that
    /// read the same epoch exactly one gets the next.
    /// </summary>
    public static async Task<JobLease?> ClaimAsync(FluxWebDbContext db, Guid jobId, string workerId, DateTime now, DateTime leaseUntil, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(workerId);
        if (leaseUntil <= now)
        {
            throw new ArgumentOutOfRangeException(nameof(leaseUntil), leaseUntil, "A lease must end after it is taken.");
        }

        var seen = await db.Jobs.AsNoTracking().Where(j => j.Id == jobId && j.State == JobState.Queued).Select(j => (long?)j.Epoch).SingleOrDefaultAsync(cancellationToken);
        if (seen is not { } epoch)
        {
            return null;
        }

        var next = epoch + 1;
        var claimed = await ApplyAsync(db, jobId, epoch, Claim, set => set
            .SetProperty(j => j.Epoch, next)
            .SetProperty(j => j.WorkerId, workerId)
            .SetProperty(j => j.LeaseExpiresUtc, leaseUntil)
            .SetProperty(j => j.StartedUtc, now)
            .SetProperty(j => j.Step, 0)
            .SetProperty(j => j.Attempts, j => j.Attempts + 1), cancellationToken);
        return claimed ? new JobLease(jobId, workerId, next) : null;
    }

    public static Task<bool> CancelWaitingAsync(FluxWebDbContext db, Guid jobId, string cancelledBy, string reason, DateTime now, CancellationToken cancellationToken) =>
        ApplyAsync(db, jobId, epoch: null, CancelWaiting, set => set
            .SetProperty(j => j.FinishedUtc, now)
            .SetProperty(j => j.CancelRequested, true)
            .SetProperty(j => j.CancelledBy, cancelledBy)
            .SetProperty(j => j.Error, reason), cancellationToken);

    /// <summary>Recorded in the row too, so a worker that claims the job at this moment sees it at start.</summary>
    public static Task<bool> RequestCancelAsync(FluxWebDbContext db, Guid jobId, string cancelledBy, CancellationToken cancellationToken) =>
        ApplyAsync(db, jobId, epoch: null, RequestCancel, set => set
            .SetProperty(j => j.CancelRequested, true)
            .SetProperty(j => j.CancelledBy, cancelledBy), cancellationToken);

    public static Task<bool> RecordProgressAsync(FluxWebDbContext db, JobLease lease, int step, int totalSteps, CancellationToken cancellationToken) =>
        ApplyAsync(db, lease.JobId, lease.Epoch, RecordProgress, set => set
            .SetProperty(j => j.Step, step)
            .SetProperty(j => j.TotalSteps, totalSteps), cancellationToken);

    /// <summary>False: the lease is lost (reclaimed, so the job is another worker's or ended); the caller must drop its run.</summary>
    public static Task<bool> RenewLeaseAsync(FluxWebDbContext db, JobLease lease, DateTime leaseUntil, CancellationToken cancellationToken) =>
        ApplyAsync(db, lease.JobId, lease.Epoch, RenewLease, set => set
            .SetProperty(j => j.LeaseExpiresUtc, leaseUntil), cancellationToken);

    /// <param name="notice">What the owner should know about the result (<see cref="Job.Notice"/>), or null.</param>
    public static Task<bool> SucceedAsync(FluxWebDbContext db, JobLease lease, Guid outputImageId, double gpuSeconds, DateTime now, string? notice, CancellationToken cancellationToken) =>
        ApplyAsync(db, lease.JobId, lease.Epoch, Succeed, set => set
            .SetProperty(j => j.FinishedUtc, now)
            .SetProperty(j => j.Notice, notice)
            .SetProperty(j => j.GpuSeconds, gpuSeconds)
            .SetProperty(j => j.Step, j => j.TotalSteps)
            .SetProperty(j => j.LeaseExpiresUtc, (DateTime?)null)
            .SetProperty(j => j.OutputImageId, outputImageId), cancellationToken);

    /// <summary>Failed or cancelled while running (<see cref="Fail"/>, <see cref="CancelRunning"/>).</summary>
    public static Task<bool> EndAsync(FluxWebDbContext db, JobLease lease, JobState state, string? error, double gpuSeconds, DateTime now, CancellationToken cancellationToken) =>
        ApplyAsync(db, lease.JobId, lease.Epoch, state switch
        {
            JobState.Failed => Fail,
            JobState.Cancelled => CancelRunning,
            _ => throw new ArgumentOutOfRangeException(nameof(state), state, "A running job ends failed or cancelled here; success is SucceedAsync."),
        }, set => set
            .SetProperty(j => j.FinishedUtc, now)
            .SetProperty(j => j.GpuSeconds, gpuSeconds)
            .SetProperty(j => j.LeaseExpiresUtc, (DateTime?)null)
            .SetProperty(j => j.Error, error), cancellationToken);

    public static Task<bool> RequeueAsync(FluxWebDbContext db, JobLease lease, CancellationToken cancellationToken) =>
        ApplyAsync(db, lease.JobId, lease.Epoch, Requeue, set => set
            .SetProperty(j => j.StartedUtc, (DateTime?)null)
            .SetProperty(j => j.Step, 0)
            .SetProperty(j => j.WorkerId, (string?)null)
            .SetProperty(j => j.LeaseExpiresUtc, (DateTime?)null)
            .SetProperty(j => j.Attempts, j => j.Attempts - 1), cancellationToken);

    /// <summary>
    /// Back to the queue under the epoch the caller read (<paramref name="seenEpoch"/>); the attempt counts. With
    /// <paramref name="leaseExpiredBy"/> (the sweeper's "now") only while the lease has still passed by then, so a
    /// renewal that arrived after the caller read the row keeps the job with its worker; null for a worker known dead.
    /// </summary>
    public static Task<bool> ReclaimAsync(FluxWebDbContext db, Guid jobId, long seenEpoch, DateTime? leaseExpiredBy, CancellationToken cancellationToken) =>
        ApplyAsync(db, jobId, seenEpoch, leaseExpiredBy, Reclaim, set => set
            .SetProperty(j => j.StartedUtc, (DateTime?)null)
            .SetProperty(j => j.Step, 0)
            .SetProperty(j => j.WorkerId, (string?)null)
            .SetProperty(j => j.LeaseExpiresUtc, (DateTime?)null), cancellationToken);

    /// <summary>Failed with <paramref name="reason"/> under the epoch the caller read; <paramref name="leaseExpiredBy"/> as for <see cref="ReclaimAsync"/>.</summary>
    public static Task<bool> GiveUpAsync(FluxWebDbContext db, Guid jobId, long seenEpoch, DateTime? leaseExpiredBy, string reason, DateTime now, CancellationToken cancellationToken) =>
        ApplyAsync(db, jobId, seenEpoch, leaseExpiredBy, GiveUp, set => set
            .SetProperty(j => j.FinishedUtc, now)
            .SetProperty(j => j.LeaseExpiresUtc, (DateTime?)null)
            .SetProperty(j => j.Error, reason), cancellationToken);

    /// <summary>
    /// The one conditional update: the row changes only while the job is in the transition's <c>From</c> state
    /// and, when <paramref name="epoch"/> is given, still under that epoch (and, with <paramref name="leaseExpiredBy"/>,
    /// while its lease has passed by then).
    /// </summary>
    private static Task<bool> ApplyAsync(FluxWebDbContext db, Guid jobId, long? epoch, JobTransition transition, Action<UpdateSettersBuilder<Job>> set, CancellationToken cancellationToken) =>
        ApplyAsync(db, jobId, epoch, leaseExpiredBy: null, transition, set, cancellationToken);

    private static async Task<bool> ApplyAsync(FluxWebDbContext db, Guid jobId, long? epoch, DateTime? leaseExpiredBy, JobTransition transition, Action<UpdateSettersBuilder<Job>> set, CancellationToken cancellationToken)
    {
        var from = transition.From;
        var to = transition.To;
        var rows = db.Jobs.Where(j => j.Id == jobId && j.State == from);
        if (epoch is { } current)
        {
            rows = rows.Where(j => j.Epoch == current);
        }

        if (leaseExpiredBy is { } by)
        {
            rows = rows.Where(j => j.LeaseExpiresUtc == null || j.LeaseExpiresUtc <= by);
        }

        var updated = await rows.ExecuteUpdateAsync(
            setters =>
            {
                if (to != from)
                {
                    setters.SetProperty(j => j.State, to);
                }

                set(setters);
            },
            cancellationToken);
        return updated == 1;
    }
}
