namespace FluxWeb.Application.Scheduling;

/// <summary>
/// Queue positions under a fair policy are a forecast, not an arrival order: the policy is run
/// forward on the snapshot, charging each picked job's estimated cost to its owner, as if the
/// jobs ran back to back. Position 1 is the job that starts next.
/// </summary>
public static class QueueForecast
{
    /// <summary>Used for jobs with no estimate yet, so the forecast still alternates between users.</summary>
    public const double UnknownCostSeconds = 1;

    public static IReadOnlyList<Guid> Order(IJobSchedulingPolicy policy, SchedulingSnapshot snapshot)
    {
        var remaining = snapshot.Queued.ToList();
        var usage = new Dictionary<string, UserUsage>(snapshot.Usage, StringComparer.Ordinal);
        var loaded = snapshot.LoadedModelId;
        var clock = snapshot.NowUtc;
        var order = new List<Guid>(remaining.Count);
        while (remaining.Count > 0)
        {
            var pick = policy.PickNext(new SchedulingSnapshot(remaining, usage, loaded, clock))!;
            var cost = pick.Job.EstimatedGpuSeconds > 0 ? pick.Job.EstimatedGpuSeconds : UnknownCostSeconds;
            var before = usage.TryGetValue(pick.Job.OwnerId, out var u) ? u.RecentGpuSeconds : 0;
            usage[pick.Job.OwnerId] = new UserUsage(before + cost, clock);
            loaded = pick.Job.ModelId;
            clock = clock.AddSeconds(cost);
            remaining.Remove(pick.Job);
            order.Add(pick.Job.Id);
        }

        return order;
    }
}
