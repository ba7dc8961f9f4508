using FluxWeb.Domain.Jobs;
using FluxWeb.Application.Jobs;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Scheduling;

/// <summary>
/// Reads what the policy decides on from the database alone (the queue, each user's recent GPU time,
/// running jobs included), so the dispatcher keeps nothing it cannot rebuild after a restart. The
/// loaded model is the worker's, not the database's: callers set it per worker.
/// </summary>
public sealed class SchedulingSnapshotReader(IDbContextFactory<FluxWebDbContext> contexts, IOptions<QueueOptions> options, TimeProvider time)
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
            .Select(j => new { j.OwnerId, j.StartedUtc })
            .ToListAsync(cancellationToken);

        var usage = new Dictionary<string, UserUsage>(StringComparer.Ordinal);
        foreach (var owner in finished.Select(f => f.Owner).Concat(started.Select(s => s.Owner)).Concat(inProgress.Select(r => r.OwnerId)).Distinct())
        {
            var seconds = finished.Where(f => f.Owner == owner).Sum(f => f.Seconds)
                + inProgress.Where(r => r.OwnerId == owner && r.StartedUtc is not null).Sum(r => Math.Max(0, (now - r.StartedUtc!.Value).TotalSeconds));
            usage[owner] = new UserUsage(seconds, started.FirstOrDefault(s => s.Owner == owner)?.Last);
        }

        return new SchedulingSnapshot(queued, usage, null, now);
    }
}
