using FluxWeb.Domain.Jobs;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// Publishes the dispatcher's forecast in this process: the board keeps it for pages and the API, and owners
/// subscribed here hear when a position changed. Every process of the cluster gets the same forecast, so each
/// tells only its own subscribers (these events are not forwarded).
/// </summary>
public sealed class QueuePositions(LiveJobBoard board, JobEvents events)
{
    public void Publish(IReadOnlyList<Guid> order, IReadOnlyDictionary<Guid, string> owners, DateTime nowUtc)
    {
        foreach (var (jobId, position) in board.ReplacePositions(order))
        {
            if (owners.TryGetValue(jobId, out var owner) && events.HasSubscribers(owner))
            {
                events.PublishLocal(new JobEvent(JobEventKind.PositionChanged, jobId, owner, JobState.Queued, nowUtc) { QueuePosition = position });
            }
        }
    }
}
