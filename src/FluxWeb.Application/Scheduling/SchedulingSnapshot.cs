namespace FluxWeb.Application.Scheduling;

/// <summary>A queued job as the scheduler sees it.</summary>
public sealed record QueuedJob(Guid Id, string OwnerId, string ModelId, DateTime EnqueuedUtc, int BatchIndex = 0, double EstimatedGpuSeconds = 0);

/// <summary>What a user has had from the GPU lately: GPU-seconds in the fairness window (running jobs included) and when their last job started.</summary>
public sealed record UserUsage(double RecentGpuSeconds, DateTime? LastStartedUtc);

/// <summary>
/// Everything the policy decides on, read in one go: the queue, recent usage per user, the model
/// the engine has loaded (the model of the last job started) and the time. No I/O behind it.
/// </summary>
public sealed record SchedulingSnapshot(
    IReadOnlyList<QueuedJob> Queued,
    IReadOnlyDictionary<string, UserUsage> Usage,
    string? LoadedModelId,
    DateTime NowUtc)
{
    public UserUsage UsageOf(string userId) => Usage.TryGetValue(userId, out var usage) ? usage : new UserUsage(0, null);
}

public enum PickReason
{
    /// <summary>The fairest user's oldest job.</summary>
    FairShare,

    /// <summary>A job for the loaded model ran ahead of the fair choice, which had waited less than the bound.</summary>
    ModelAffinity,
}

public sealed record SchedulingDecision(QueuedJob Job, PickReason Reason);

/// <summary>Chooses the next job to run. Pure: the same snapshot gives the same answer.</summary>
public interface IJobSchedulingPolicy
{
    SchedulingDecision? PickNext(SchedulingSnapshot snapshot);
}
