using FluxWeb.Application.Images;
using FluxWeb.Application.Quotas;
using FluxWeb.Domain.Jobs;
using FluxWeb.Domain.Time;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// Takes back running jobs whose worker is gone: those whose lease expired (a hung worker, a process that
/// died without anyone noticing, a box that crashed) and those of a process the cluster declared dead. Each
/// goes back to the queue while it has attempts left, else fails with the reason and gives its image back
/// to the quota. Every change is conditional on the epoch read here, so two processes sweeping at once take
/// a job back once, and the old worker's late writes are refused (<see cref="JobTransitions"/>). The output
/// file a dead run wrote but never committed is removed once its epoch is taken back.
/// </summary>
public sealed partial class JobReclaimer(
    IDbContextFactory<FluxWebDbContext> contexts,
    IJobEvents events,
    JobQueueSignal signal,
    ImageStore images,
    IOptions<QueueOptions> options,
    AppClock time,
    ILogger<JobReclaimer> logger)
{
    /// <summary>Every running job whose lease has passed (or that has none: a row written before leases existed). Returns how many were taken back.</summary>
    public async Task<int> ReclaimExpiredAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var expired = await db.Jobs.AsNoTracking()
            .Where(j => j.State == JobState.Running && (j.LeaseExpiresUtc == null || j.LeaseExpiresUtc <= now))
            .ToListAsync(cancellationToken);
        return await ReclaimAllAsync(db, expired, job => $"The server stopped unexpectedly {job.Attempts} times while this job was running, so it was not tried again.", "its lease expired", now, cancellationToken);
    }

    /// <summary>
    /// Every running job held by a worker whose id starts with <paramref name="workerIdPrefix"/> (a whole process:
    /// <see cref="JobWorkerIds.NodePrefix"/>), whatever its lease says: the cluster calls this when its membership
    /// declares the process dead. <paramref name="reason"/> is what the owner reads on a job that has no attempts left.
    /// </summary>
    public async Task<int> ReclaimWorkerAsync(string workerIdPrefix, string reason, CancellationToken cancellationToken)
    {
        // An empty prefix would take every node's running jobs.
        ArgumentException.ThrowIfNullOrWhiteSpace(workerIdPrefix);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var held = await db.Jobs.AsNoTracking()
            .Where(j => j.State == JobState.Running && j.WorkerId != null && j.WorkerId.StartsWith(workerIdPrefix))
            .ToListAsync(cancellationToken);
        return await ReclaimAllAsync(db, held, _ => reason, reason, leaseExpiredBy: null, cancellationToken);
    }

    /// <param name="leaseExpiredBy">For expired leases: each is taken back only while its lease has still passed (a renewal since the read keeps it).</param>
    private async Task<int> ReclaimAllAsync(FluxWebDbContext db, List<Job> jobs, Func<Job, string> failure, string why, DateTime? leaseExpiredBy, CancellationToken cancellationToken)
    {
        var taken = new List<Job>();
        foreach (var job in jobs)
        {
            if (await ReclaimAsync(db, job, failure, why, leaseExpiredBy, cancellationToken))
            {
                taken.Add(job);
            }
        }

        if (taken.Count > 0)
        {
            signal.Notify();
        }

        // After the signal: the next run has an epoch of its own and a file name of its own, so it need not wait for this.
        foreach (var job in taken)
        {
            await RemoveLeftOutputAsync(job, cancellationToken);
        }

        return taken.Count;
    }

    /// <summary>
    /// Removes the file the taken-back run wrote if it died before committing (killed between the two). Safe because
    /// it runs only after the conditional update that took <paramref name="job"/>'s epoch back succeeded: success is
    /// written only while the row is Running under that epoch, in the transaction that adds the image row, so that
    /// epoch can never commit and no row can point to its file (checked all the same). Later runs name their files
    /// after their own epochs and are never touched. A run of that epoch still alive (hung, or a process wrongly
    /// declared dead) that writes its file after this has its commit refused and deletes the file itself
    /// (<see cref="JobRunner"/>); deleting a file it is about to commit costs it nothing, as that commit is refused too.
    /// Only a run that writes after this check and then dies before its commit attempt can still leave its file.
    /// </summary>
    private async Task RemoveLeftOutputAsync(Job job, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        // The file's month is the writer's clock's; nodes keep their clocks well within a lease of each other (ADR 0022).
        var skew = options.Value.LeaseDuration;
        try
        {
            await images.RemoveOutputOfTakenBackRunAsync(job.Id, job.Epoch, job.StartedUtc ?? now - skew, now + skew, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The job is already back in the queue (or failed); a stray file is not worth failing the sweep for.
            LogCleanupFailed(logger, ex, job.Id, job.Epoch);
        }
    }

    private async Task<bool> ReclaimAsync(FluxWebDbContext db, Job job, Func<Job, string> failure, string why, DateTime? leaseExpiredBy, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var worker = job.WorkerId ?? "(unknown)";
        if (job.Attempts < options.Value.MaxAttempts)
        {
            if (!await JobTransitions.ReclaimAsync(db, job.Id, job.Epoch, leaseExpiredBy, cancellationToken))
            {
                return false;
            }

            LogRequeued(logger, job.Id, worker, job.Epoch, job.Attempts, why);
            events.Publish(new JobEvent(JobEventKind.Requeued, job.Id, job.OwnerId, JobState.Queued, now) { TotalSteps = job.TotalSteps });
            return true;
        }

        var reason = failure(job);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (!await JobTransitions.GiveUpAsync(db, job.Id, job.Epoch, leaseExpiredBy, reason, now, cancellationToken))
        {
            return false;
        }

        await QuotaService.RefundImageAsync(db, job, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        LogGaveUp(logger, job.Id, worker, job.Epoch, job.Attempts, why);
        events.Publish(new JobEvent(JobEventKind.Failed, job.Id, job.OwnerId, JobState.Failed, now) { Error = reason, TotalSteps = job.TotalSteps });
        return true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not remove the output file that job {JobId}'s taken-back run (epoch {Epoch}) may have left")]
    private static partial void LogCleanupFailed(ILogger logger, Exception exception, Guid jobId, long epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} taken back from worker {WorkerId} (epoch {Epoch}, attempt {Attempts}): {Why}; queued again")]
    private static partial void LogRequeued(ILogger logger, Guid jobId, string workerId, long epoch, int attempts, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} taken back from worker {WorkerId} (epoch {Epoch}) after {Attempts} attempts: {Why}; failed")]
    private static partial void LogGaveUp(ILogger logger, Guid jobId, string workerId, long epoch, int attempts, string why);
}
