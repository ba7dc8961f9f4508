using FluxWeb.Application.Scheduling;

namespace FluxWeb.Application.Tests.Scheduling;

/// <summary>One job in a scripted scenario: who, which model, when it is queued and how long it holds the GPU.</summary>
public sealed record SimulatedJob(string Name, string User, string Model, double ArrivalSeconds, double CostSeconds);

public sealed record SimulatedStart(SimulatedJob Job, double StartSeconds, PickReason Reason, QueuedJob? FairChoice, double FairChoiceWaitedSeconds);

/// <summary>
/// Runs a policy over a scripted scenario on a virtual clock with one GPU slot, the way the worker
/// would: decide when the GPU is free, with usage from finished jobs in the fairness window.
/// </summary>
public static class SchedulerSimulation
{
    public static readonly DateTime Epoch = new(2026, 11, 26, 9, 0, 0, DateTimeKind.Utc);

    public static IReadOnlyList<SimulatedStart> Run(IJobSchedulingPolicy policy, IReadOnlyList<SimulatedJob> jobs, string? loadedModel = null, double windowSeconds = 600)
    {
        var ids = jobs.ToDictionary(j => j, _ => Guid.NewGuid());
        var byId = ids.ToDictionary(p => p.Value, p => p.Key);
        // Jobs queued in the same instant keep their script order, like a batch's index.
        var order = jobs.Select((j, i) => (j, i)).ToDictionary(p => p.j, p => p.i);
        var pending = jobs.OrderBy(j => j.ArrivalSeconds).ToList();
        var queued = new List<SimulatedJob>();
        var finished = new List<(string User, double End, double Cost)>();
        var lastStarted = new Dictionary<string, double>();
        var starts = new List<SimulatedStart>();
        var clock = 0.0;
        var fairPolicy = new FairSchedulingPolicy(TimeSpan.Zero);

        while (pending.Count > 0 || queued.Count > 0)
        {
            queued.AddRange(pending.Where(j => j.ArrivalSeconds <= clock));
            pending.RemoveAll(j => j.ArrivalSeconds <= clock);
            if (queued.Count == 0)
            {
                clock = pending[0].ArrivalSeconds;
                continue;
            }

            var usage = queued.Select(j => j.User).Concat(finished.Select(f => f.User)).Distinct()
                .ToDictionary(
                    u => u,
                    u => new UserUsage(
                        finished.Where(f => f.User == u && f.End >= clock - windowSeconds).Sum(f => f.Cost),
                        lastStarted.TryGetValue(u, out var s) ? Epoch.AddSeconds(s) : null));
            var snapshot = new SchedulingSnapshot(
                [.. queued.Select(j => new QueuedJob(ids[j], j.User, j.Model, Epoch.AddSeconds(j.ArrivalSeconds), order[j], j.CostSeconds))],
                usage,
                loadedModel,
                Epoch.AddSeconds(clock));

            var decision = policy.PickNext(snapshot)!;
            var fair = fairPolicy.PickNext(snapshot)!.Job;
            var job = byId[decision.Job.Id];
            starts.Add(new SimulatedStart(job, clock, decision.Reason, fair, (snapshot.NowUtc - fair.EnqueuedUtc).TotalSeconds));
            queued.Remove(job);
            lastStarted[job.User] = clock;
            loadedModel = job.Model;
            clock += job.CostSeconds;
            finished.Add((job.User, clock, job.CostSeconds));
        }

        return starts;
    }

    public static IEnumerable<SimulatedJob> Batch(string user, int count, double arrival, double cost, string model = "klein-4b") =>
        Enumerable.Range(1, count).Select(i => new SimulatedJob($"{user}{i}", user, model, arrival, cost));
}
