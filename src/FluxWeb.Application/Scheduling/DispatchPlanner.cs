namespace FluxWeb.Application.Scheduling;

/// <summary>A worker with room for more work, as the dispatcher sees it.</summary>
/// <param name="FreeSlots">Jobs it may still take now (<c>Queue:MaxConcurrentJobs</c> minus what it holds).</param>
/// <param name="LastUsedUtc">When it last started a job; null when never (the least recently used of all).</param>
public sealed record IdleWorker(string WorkerId, string? LoadedModelId, int FreeSlots, DateTime? LastUsedUtc);

/// <summary>One job offered to one worker.</summary>
public sealed record WorkerAssignment(string WorkerId, SchedulingDecision Decision);

/// <summary>
/// The fair policy over several workers (issue 18): jobs go out in the policy's order (fewest GPU-seconds
/// first across users), each to an idle worker that already has its model loaded when there is one, else to
/// the least recently used idle worker, for which the policy decides as it does for one engine (a job for the
/// model that worker has loaded may go first while the fair choice has waited less than the bound). Each
/// planned job is charged its estimate to its owner before the next choice, as the forecast does, so several
/// idle workers at once still alternate between users. Pure: no I/O, the same input gives the same plan.
/// </summary>
public static class DispatchPlanner
{
    public static IReadOnlyList<WorkerAssignment> Plan(IJobSchedulingPolicy policy, SchedulingSnapshot snapshot, IReadOnlyList<IdleWorker> workers)
    {
        var remaining = snapshot.Queued.ToList();
        var usage = new Dictionary<string, UserUsage>(snapshot.Usage, StringComparer.Ordinal);
        var free = workers.Where(w => w.FreeSlots > 0).ToDictionary(w => w.WorkerId, StringComparer.Ordinal);
        var plan = new List<WorkerAssignment>();
        var now = snapshot.NowUtc;
        while (remaining.Count > 0 && free.Count > 0)
        {
            var fair = policy.PickNext(new SchedulingSnapshot(remaining, usage, null, now))!;
            var withModel = free.Values
                .Where(w => string.Equals(w.LoadedModelId, fair.Job.ModelId, StringComparison.Ordinal))
                .OrderBy(w => w.LastUsedUtc ?? DateTime.MinValue)
                .ThenBy(w => w.WorkerId, StringComparer.Ordinal)
                .FirstOrDefault();
            IdleWorker worker;
            SchedulingDecision decision;
            if (withModel is not null)
            {
                (worker, decision) = (withModel, fair);
            }
            else
            {
                worker = free.Values.OrderBy(w => w.LastUsedUtc ?? DateTime.MinValue).ThenBy(w => w.WorkerId, StringComparer.Ordinal).First();
                decision = policy.PickNext(new SchedulingSnapshot(remaining, usage, worker.LoadedModelId, now))!;
            }

            plan.Add(new WorkerAssignment(worker.WorkerId, decision));
            var job = decision.Job;
            remaining.Remove(job);
            var cost = job.EstimatedGpuSeconds > 0 ? job.EstimatedGpuSeconds : QueueForecast.UnknownCostSeconds;
            var before = usage.TryGetValue(job.OwnerId, out var u) ? u.RecentGpuSeconds : 0;
            usage[job.OwnerId] = new UserUsage(before + cost, now);
            var next = worker with { LoadedModelId = job.ModelId, FreeSlots = worker.FreeSlots - 1, LastUsedUtc = now };
            if (next.FreeSlots > 0)
            {
                free[worker.WorkerId] = next;
            }
            else
            {
                free.Remove(worker.WorkerId);
            }
        }

        return plan;
    }
}
