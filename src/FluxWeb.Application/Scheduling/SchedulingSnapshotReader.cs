using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Jobs;
using FluxWeb.Domain.Time;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Scheduling;

/// <summary>
/// Reads what the policy decides on from the database alone (the queue, each user's recent GPU time,
/// running jobs included), so the dispatcher keeps nothing it cannot rebuild after a restart. The
/// loaded model is the worker's, not the database's: callers set it per worker.
/// </summary>
/// <remarks>
/// A running job counts the time since it started, as on one box, but no more than its expected cost (stored at
/// submission, else the model's measured cost now) and not past one lease renewal after its worker last renewed the
/// lease. In a cluster a job can be "running" on a worker that was killed: until the cluster notices (seconds) and
/// the job is queued again, its elapsed time kept growing and charged its owner for GPU time nobody used, so the
/// owner was passed over for several turns (the chaos run's spread of 6 against a bound of 4). Capped, a killed
/// worker's job weighs at most one job, which is what the fairness bound allows for it. The owner is charged the
/// measured time when the job finishes, as before; a live job running past its estimate only counts its estimate
/// until then, which errs by less than one job.
/// </remarks>
public sealed class SchedulingSnapshotReader(IDbContextFactory<FluxWebDbContext> contexts, IOptions<QueueOptions> options, GpuCostEstimator estimator, AppClock time)
{
    public async Task<SchedulingSnapshot> ReadAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var windowStart = now - options.Value.Scheduling.FairShareWindow;
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var queued = await db.Jobs.AsNoTracking()
            .Where(j => j.State == JobState.Queued)
            .Select(j => new QueuedJob(j.Id, j.OwnerId, j.Settings.ModelId, j.EnqueuedUtc, j.BatchIndex, j.EstimatedGpuSeconds))
            .ToListAsync(cancellationToken);
        var finished = await db.Jobs.AsNoTracking()
            .Where(j => j.FinishedUtc >= windowStart && j.GpuSeconds > 0)
            .GroupBy(j => j.OwnerId)
            .Select(g => new { Owner = g.Key, Seconds = g.Sum(j => j.GpuSeconds) })
            .ToListAsync(cancellationToken);
        var started = await db.Jobs.AsNoTracking()
            .Where(j => j.StartedUtc >= windowStart)
            .GroupBy(j => j.OwnerId)
            .Select(g => new { Owner = g.Key, Last = g.Max(j => j.StartedUtc) })
            .ToListAsync(cancellationToken);
        var inProgress = await db.Jobs.AsNoTracking()
            .Where(j => j.State == JobState.Running)
            .Select(j => new RunningJob(j.OwnerId, j.Settings.ModelId, j.StartedUtc, j.LeaseExpiresUtc, j.EstimatedGpuSeconds, (double)j.ResolvedWidth * j.ResolvedHeight * j.ResolvedSteps))
            .ToListAsync(cancellationToken);
        var secondsPerUnit = new Dictionary<string, double?>(StringComparer.Ordinal);
        foreach (var model in inProgress.Where(r => r.EstimatedGpuSeconds <= 0).Select(r => r.ModelId).Distinct(StringComparer.Ordinal))
        {
            secondsPerUnit[model] = await estimator.SecondsPerUnitAsync(model, cancellationToken);
        }

        var usage = new Dictionary<string, UserUsage>(StringComparer.Ordinal);
        foreach (var owner in finished.Select(f => f.Owner).Concat(started.Select(s => s.Owner)).Concat(inProgress.Select(r => r.OwnerId)).Distinct())
        {
            var seconds = finished.Where(f => f.Owner == owner).Sum(f => f.Seconds)
                + inProgress.Where(r => r.OwnerId == owner).Sum(r => CountedSeconds(r, now, secondsPerUnit));
            usage[owner] = new UserUsage(seconds, started.FirstOrDefault(s => s.Owner == owner)?.Last);
        }

        return new SchedulingSnapshot(queued, usage, null, now);
    }

    /// <summary>A running job's GPU time so far, as the fair order counts it (see the remarks).</summary>
    private double CountedSeconds(RunningJob job, DateTime now, Dictionary<string, double?> secondsPerUnit)
    {
        if (job.StartedUtc is not { } started)
        {
            return 0;
        }

        var until = now;
        if (job.LeaseExpiresUtc is { } expires)
        {
            // A live worker renews every LeaseRenewalInterval; past one interval after its last renewal nothing proves it runs.
            var heardUntil = expires - options.Value.LeaseDuration + options.Value.LeaseRenewalInterval;
            until = heardUntil < until ? heardUntil : until;
        }

        var seconds = Math.Max(0, (until - started).TotalSeconds);
        var expected = job.EstimatedGpuSeconds > 0 ? job.EstimatedGpuSeconds
            : secondsPerUnit.GetValueOrDefault(job.ModelId) is { } perUnit && job.Work > 0 ? perUnit * job.Work
            : double.PositiveInfinity;
        return Math.Min(seconds, expected);
    }

    private sealed record RunningJob(string OwnerId, string ModelId, DateTime? StartedUtc, DateTime? LeaseExpiresUtc, double EstimatedGpuSeconds, double Work);
}
