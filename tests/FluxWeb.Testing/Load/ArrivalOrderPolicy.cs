using FluxWeb.Application.Scheduling;

namespace FluxWeb.Testing.Load;

/// <summary>First come, first served: what most image servers do. Only the load run uses it, as the baseline fairness is compared with.</summary>
public sealed class ArrivalOrderPolicy : IJobSchedulingPolicy
{
    public SchedulingDecision? PickNext(SchedulingSnapshot snapshot) =>
        snapshot.Queued.Count == 0
            ? null
            : new SchedulingDecision(snapshot.Queued.OrderBy(j => j.EnqueuedUtc).ThenBy(j => j.BatchIndex).ThenBy(j => j.Id).First(), PickReason.FairShare);
}
