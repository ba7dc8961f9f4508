using FluxWeb.Application.Images;
using FluxWeb.Application.Quotas;
using FluxWeb.Domain.Jobs;
using FluxWeb.Domain.Time;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Jobs;

public enum CancelOutcome
{
    /// <summary>No such job, or not the caller's (the two look the same).</summary>
    NotFound,

    /// <summary>It had already succeeded, failed or been cancelled.</summary>
    AlreadyFinished,

    /// <summary>It was waiting and is now cancelled.</summary>
    Cancelled,

    /// <summary>It was running; the engine stops it at once and the job ends as cancelled.</summary>
    Stopping,

    /// <summary>The actor's licence hides the job (a non-commercial model's, for a commercial account): nothing changed.</summary>
    LicenceRefused,
}

/// <summary>How a request for one job (or its preview) ends: the view, "not found", or the licence's refusal.</summary>
public sealed record JobRead<T>(T? Value, string? LicenceRefusal = null)
    where T : class
{
    public bool NotFound => Value is null && LicenceRefusal is null;
}

/// <summary>
/// Reading and cancelling jobs for every door. Ownership is decided here (owner or administrator),
/// and what a job carries (prompt, seed, preview, output) goes through <see cref="ImageAccess"/>'s
/// licence rule, so the endpoints, the Studio panels and the API hub cannot disagree: a commercial
/// account sees nothing of a job whose model's output it may not receive.
/// </summary>
public sealed partial class JobService(
    IDbContextFactory<FluxWebDbContext> contexts,
    ImageAccess access,
    LiveJobBoard board,
    RunningJobs runningJobs,
    IJobEvents events,
    JobQueueSignal signal,
    IJobClusterRelay cluster,
    AppClock time,
    ILogger<JobService> logger)
{
    public const int MaxListed = 200;

    /// <summary>The viewer's own jobs, newest first: waiting and running ones always, plus up to <paramref name="finished"/> finished ones.</summary>
    /// <remarks>Jobs whose outputs the viewer's licence does not let it receive are left out, like their images.</remarks>
    /// <summary>
    /// The average GPU-seconds of the server's latest finished images (everyone's: one number, no job
    /// of anyone else's), for wait estimates; null before any image finished.
    /// </summary>
    public async Task<double?> RecentGpuSecondsPerImageAsync(CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var recent = await db.Jobs.AsNoTracking()
            .Where(j => j.State == JobState.Succeeded && j.GpuSeconds > 0)
            .OrderByDescending(j => j.FinishedUtc)
            .Select(j => j.GpuSeconds)
            .Take(20)
            .ToListAsync(cancellationToken);
        return recent.Count == 0 ? null : recent.Average();
    }

    public async Task<IReadOnlyList<JobView>> ListMineAsync(JobActor viewer, int finished = 20, CancellationToken cancellationToken = default)
    {
        finished = Math.Clamp(finished, 0, MaxListed);
        var licence = await access.JobFilterAsync(viewer, cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var mine = licence.Apply(db.Jobs.AsNoTracking().Where(j => j.OwnerId == viewer.UserId), db);
        var active = await mine
            .Where(j => j.State == JobState.Queued || j.State == JobState.Running)
            .OrderBy(j => j.EnqueuedUtc).ThenBy(j => j.BatchIndex)
            .Take(MaxListed)
            .ToListAsync(cancellationToken);
        var done = finished == 0 ? [] : await mine
            .Where(j => j.State != JobState.Queued && j.State != JobState.Running)
            .OrderByDescending(j => j.FinishedUtc)
            .Take(finished)
            .ToListAsync(cancellationToken);
        return [.. active.Select(j => JobView.From(j, board)), .. done.Select(j => JobView.From(j, board))];
    }

    /// <summary>One job for its owner or an administrator; null when it does not exist, is someone else's, or its licence hides it from the viewer.</summary>
    public async Task<JobView?> GetAsync(JobActor viewer, Guid jobId, CancellationToken cancellationToken = default) =>
        (await ReadAsync(viewer, jobId, cancellationToken)).Value;

    /// <summary>One job, telling "not found" (also someone else's) apart from the licence's refusal, which the API answers with its reason.</summary>
    public async Task<JobRead<JobView>> ReadAsync(JobActor viewer, Guid jobId, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var job = await db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == jobId, cancellationToken);
        if (job is null || !viewer.MayAccess(job.OwnerId))
        {
            return new JobRead<JobView>(null);
        }

        var decision = await access.JobAsync(viewer, jobId, cancellationToken);
        return decision.Allowed ? new JobRead<JobView>(JobView.From(job, board)) : new JobRead<JobView>(null, decision.Reason);
    }

    /// <summary>The running (or just finished) job's latest preview as PNG, for its owner or an administrator, licence-checked now; not found otherwise.</summary>
    public async Task<JobRead<byte[]>> GetPreviewAsync(JobActor viewer, Guid jobId, CancellationToken cancellationToken = default)
    {
        // A job that ended a moment ago still has its last preview: the page showing it may not have heard of the end yet.
        if (board.LatestPreview(jobId) is not { } live || !viewer.MayAccess(live.OwnerId))
        {
            return new JobRead<byte[]>(null);
        }

        var decision = await access.JobAsync(viewer, jobId, cancellationToken);
        return !decision.Allowed ? new JobRead<byte[]>(null, decision.Reason)
            : live.PreviewPng() is { } png ? new JobRead<byte[]>(png)
            : new JobRead<byte[]>(null);
    }

    /// <remarks>A job the licence hides from the actor is refused like any other action on its output.</remarks>
    public async Task<CancelOutcome> CancelAsync(JobActor actor, Guid jobId, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var job = await db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == jobId, cancellationToken);
        if (job is null || !actor.MayAccess(job.OwnerId))
        {
            return CancelOutcome.NotFound;
        }

        if (!(await access.JobAsync(actor, jobId, cancellationToken)).Allowed)
        {
            return CancelOutcome.LicenceRefused;
        }

        if (job.State.IsFinished())
        {
            return CancelOutcome.AlreadyFinished;
        }

        var now = time.GetUtcNow().UtcDateTime;
        var reason = actor.UserId == job.OwnerId ? "Cancelled by you." : "Cancelled by an administrator.";

        // A waiting job is cancelled by a conditional update: if the worker claimed it a moment
        // ago, nothing changes here and the running branch below stops it instead.
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            if (await JobTransitions.CancelWaitingAsync(db, jobId, actor.UserId, reason, now, cancellationToken))
            {
                await QuotaService.RefundImageAsync(db, job, cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                LogCancelled(logger, jobId, actor.UserId, JobState.Queued);
                events.Publish(new JobEvent(JobEventKind.Cancelled, jobId, job.OwnerId, JobState.Cancelled, now) { Error = reason });
                signal.Notify();
                return CancelOutcome.Cancelled;
            }
        }

        if (!await JobTransitions.RequestCancelAsync(db, jobId, actor.UserId, cancellationToken))
        {
            return CancelOutcome.AlreadyFinished;
        }

        // Stopped here when this process runs it, else wherever it runs; the row's flag is the backstop
        // (a worker that claims it now sees the flag at start).
        if (!runningJobs.Cancel(jobId))
        {
            cluster.CancelElsewhere(jobId);
        }

        LogCancelled(logger, jobId, actor.UserId, JobState.Running);
        return CancelOutcome.Stopping;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} cancelled by {UserId} while {State}")]
    private static partial void LogCancelled(ILogger logger, Guid jobId, string userId, JobState state);
}
