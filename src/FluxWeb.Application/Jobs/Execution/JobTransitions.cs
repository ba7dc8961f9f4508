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
/// The allowed transitions, as a table (<see cref="All"/>); nothing else writes <c>Jobs.State</c>:
/// <code>
/// transition        from     → to         made by
/// Claim             Queued   → Running    the worker picks the job (attempt counted)
/// CancelWaiting     Queued   → Cancelled  an owner or administrator cancels a waiting job (image refunded)
/// RequestCancel     Running  → Running    the same for a running job: flagged, the engine stops it
/// RecordProgress    Running  → Running    the runner writes the step it reached (at most once a second)
/// Succeed           Running  → Succeeded  the runner stored the output (GPU time charged)
/// End               Running  → Failed     the runner: refused at the GPU's door, engine failure, blocked output
///                   Running  → Cancelled  … or cancelled while running (image refunded, GPU time charged)
/// Requeue           Running  → Queued     the server stops mid-run (attempt not counted)
/// Recover           Running  → Queued     the worker starts and finds a job a crash left running (attempts left)
/// GiveUp            Running  → Failed     … the same, with no attempts left (image refunded)
/// </code>
/// </remarks>
internal static class JobTransitions
{
    public static readonly JobTransition Claim = new(nameof(ClaimAsync), JobState.Queued, JobState.Running, "the worker picks the job");
    public static readonly JobTransition CancelWaiting = new(nameof(CancelWaitingAsync), JobState.Queued, JobState.Cancelled, "an owner or administrator cancels a waiting job");
    public static readonly JobTransition RequestCancel = new(nameof(RequestCancelAsync), JobState.Running, JobState.Running, "an owner or administrator cancels a running job; the engine stops it");
    public static readonly JobTransition RecordProgress = new(nameof(RecordProgressAsync), JobState.Running, JobState.Running, "the runner writes the step the engine reached");
    public static readonly JobTransition Succeed = new(nameof(SucceedAsync), JobState.Running, JobState.Succeeded, "the runner stored the output");
    public static readonly JobTransition Fail = new(nameof(EndAsync), JobState.Running, JobState.Failed, "the runner: refused at the GPU's door, the engine failed, the output was blocked or not stored");
    public static readonly JobTransition CancelRunning = new(nameof(EndAsync), JobState.Running, JobState.Cancelled, "the runner: the engine stopped on a cancel");
    public static readonly JobTransition Requeue = new(nameof(RequeueAsync), JobState.Running, JobState.Queued, "the server stops while the job runs (the attempt does not count)");
    public static readonly JobTransition Recover = new(nameof(RecoverAsync), JobState.Running, JobState.Queued, "the worker starts and finds a job a crash left running, with attempts left");
    public static readonly JobTransition GiveUp = new(nameof(GiveUpAsync), JobState.Running, JobState.Failed, "the same, with no attempts left");

    /// <summary>The allowed transitions: the table in the remarks, as data.</summary>
    public static IReadOnlyList<JobTransition> All { get; } = [Claim, CancelWaiting, RequestCancel, RecordProgress, Succeed, Fail, CancelRunning, Requeue, Recover, GiveUp];

    public static Task<bool> ClaimAsync(FluxWebDbContext db, Guid jobId, DateTime now, CancellationToken cancellationToken) =>
        ApplyAsync(db, jobId, Claim, set => set
            .SetProperty(j => j.StartedUtc, now)
            .SetProperty(j => j.Step, 0)
            .SetProperty(j => j.Attempts, j => j.Attempts + 1), cancellationToken);

    public static Task<bool> CancelWaitingAsync(FluxWebDbContext db, Guid jobId, string cancelledBy, string reason, DateTime now, CancellationToken cancellationToken) =>
        ApplyAsync(db, jobId, CancelWaiting, set => set
            .SetProperty(j => j.FinishedUtc, now)
            .SetProperty(j => j.CancelRequested, true)
            .SetProperty(j => j.CancelledBy, cancelledBy)
            .SetProperty(j => j.Error, reason), cancellationToken);

    /// <summary>Recorded in the row too, so a worker that claims the job at this moment sees it at start.</summary>
    public static Task<bool> RequestCancelAsync(FluxWebDbContext db, Guid jobId, string cancelledBy, CancellationToken cancellationToken) =>
        ApplyAsync(db, jobId, RequestCancel, set => set
            .SetProperty(j => j.CancelRequested, true)
            .SetProperty(j => j.CancelledBy, cancelledBy), cancellationToken);

    public static Task<bool> RecordProgressAsync(FluxWebDbContext db, Guid jobId, int step, int totalSteps, CancellationToken cancellationToken) =>
        ApplyAsync(db, jobId, RecordProgress, set => set
            .SetProperty(j => j.Step, step)
            .SetProperty(j => j.TotalSteps, totalSteps), cancellationToken);

    public static Task<bool> SucceedAsync(FluxWebDbContext db, Guid jobId, Guid outputImageId, double gpuSeconds, DateTime now, CancellationToken cancellationToken) =>
        ApplyAsync(db, jobId, Succeed, set => set
            .SetProperty(j => j.FinishedUtc, now)
            .SetProperty(j => j.GpuSeconds, gpuSeconds)
            .SetProperty(j => j.Step, j => j.TotalSteps)
            .SetProperty(j => j.OutputImageId, outputImageId), cancellationToken);

    /// <summary>Failed or cancelled while running (<see cref="Fail"/>, <see cref="CancelRunning"/>).</summary>
    public static Task<bool> EndAsync(FluxWebDbContext db, Guid jobId, JobState state, string? error, double gpuSeconds, DateTime now, CancellationToken cancellationToken) =>
        ApplyAsync(db, jobId, state switch
        {
            JobState.Failed => Fail,
            JobState.Cancelled => CancelRunning,
            _ => throw new ArgumentOutOfRangeException(nameof(state), state, "A running job ends failed or cancelled here; success is SucceedAsync."),
        }, set => set
            .SetProperty(j => j.FinishedUtc, now)
            .SetProperty(j => j.GpuSeconds, gpuSeconds)
            .SetProperty(j => j.Error, error), cancellationToken);

    public static Task<bool> RequeueAsync(FluxWebDbContext db, Guid jobId, CancellationToken cancellationToken) =>
        ApplyAsync(db, jobId, Requeue, set => set
            .SetProperty(j => j.StartedUtc, (DateTime?)null)
            .SetProperty(j => j.Step, 0)
            .SetProperty(j => j.Attempts, j => j.Attempts - 1), cancellationToken);

    public static Task<bool> RecoverAsync(FluxWebDbContext db, Guid jobId, CancellationToken cancellationToken) =>
        ApplyAsync(db, jobId, Recover, set => set
            .SetProperty(j => j.StartedUtc, (DateTime?)null)
            .SetProperty(j => j.Step, 0), cancellationToken);

    public static Task<bool> GiveUpAsync(FluxWebDbContext db, Guid jobId, string reason, DateTime now, CancellationToken cancellationToken) =>
        ApplyAsync(db, jobId, GiveUp, set => set
            .SetProperty(j => j.FinishedUtc, now)
            .SetProperty(j => j.Error, reason), cancellationToken);

    /// <summary>The one conditional update: the row changes only while the job is in the transition's <c>From</c> state.</summary>
    private static async Task<bool> ApplyAsync(FluxWebDbContext db, Guid jobId, JobTransition transition, Action<UpdateSettersBuilder<Job>> set, CancellationToken cancellationToken)
    {
        var from = transition.From;
        var to = transition.To;
        var updated = await db.Jobs.Where(j => j.Id == jobId && j.State == from)
            .ExecuteUpdateAsync(
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
