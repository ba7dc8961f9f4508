namespace FluxWeb.Application.Scheduling;

/// <summary>
/// Fair share by GPU time with bounded model affinity (docs/decisions/0007-fair-scheduling-and-quotas.md):
/// <list type="number">
/// <item>Users are ordered by GPU-seconds used in the fairness window (running jobs included), then by
/// who was served longest ago (never first), then by their oldest waiting job. With equal job costs this
/// is round-robin; with unequal ones, whoever used the GPU least goes next.</item>
/// <item>Within a user, first in, first out.</item>
/// <item>If the fair choice needs another model than the loaded one and has waited less than
/// <see cref="SchedulingOptions.ModelSwitchMaxWait"/>, the fairest job for the loaded model runs first.</item>
/// </list>
/// </summary>
public sealed class FairSchedulingPolicy(TimeSpan modelSwitchMaxWait) : IJobSchedulingPolicy
{
    public TimeSpan ModelSwitchMaxWait { get; } = modelSwitchMaxWait;

    public SchedulingDecision? PickNext(SchedulingSnapshot snapshot)
    {
        if (snapshot.Queued.Count == 0)
        {
            return null;
        }

        var usersInTurnOrder = UsersInTurnOrder(snapshot);
        var fair = OldestOf(snapshot.Queued.Where(j => j.OwnerId == usersInTurnOrder[0]));

        var needsSwitch = snapshot.LoadedModelId is { } loaded && !string.Equals(fair.ModelId, loaded, StringComparison.Ordinal);
        var mayWait = snapshot.NowUtc - fair.EnqueuedUtc < ModelSwitchMaxWait;
        if (needsSwitch && mayWait)
        {
            foreach (var user in usersInTurnOrder)
            {
                var sameModel = snapshot.Queued.Where(j => j.OwnerId == user && string.Equals(j.ModelId, snapshot.LoadedModelId, StringComparison.Ordinal)).ToList();
                if (sameModel.Count > 0)
                {
                    return new SchedulingDecision(OldestOf(sameModel), PickReason.ModelAffinity);
                }
            }
        }

        return new SchedulingDecision(fair, PickReason.FairShare);
    }

    /// <summary>Users with queued jobs, whose turn it is first.</summary>
    public static IReadOnlyList<string> UsersInTurnOrder(SchedulingSnapshot snapshot) =>
        snapshot.Queued
            .GroupBy(j => j.OwnerId, StringComparer.Ordinal)
            .Select(g => (User: g.Key, Usage: snapshot.UsageOf(g.Key), Oldest: OldestOf(g)))
            .OrderBy(u => u.Usage.RecentGpuSeconds)
            .ThenBy(u => u.Usage.LastStartedUtc ?? DateTime.MinValue)
            .ThenBy(u => u.Oldest.EnqueuedUtc)
            .ThenBy(u => u.User, StringComparer.Ordinal)
            .Select(u => u.User)
            .ToList();

    private static QueuedJob OldestOf(IEnumerable<QueuedJob> jobs) =>
        jobs.OrderBy(j => j.EnqueuedUtc).ThenBy(j => j.BatchIndex).ThenBy(j => j.Id).First();
}
