using FluxWeb.Application.Jobs;

namespace FluxWeb.Cluster;

/// <summary>
/// Which step previews go out with relayed progress events (see <see cref="ClusterRelay"/>): each step's own picture,
/// taken when its event was queued, once per step (the engine makes at most one per step, so a page on another node
/// sees what a page on this one sees), and never one over <see cref="MaxBytes"/>. Used by the relay's one drain loop
/// only, so it needs no lock.
/// </summary>
/// <remarks>
/// No time-based limit: one was tried (one preview per job every 250 ms) and it made a relayed event name another
/// step's picture, and left a job held at a step showing an older one, for a saving the network does not need
/// (a few steps a second of a picture of at most 256² pixels).
/// </remarks>
internal sealed class RelayedPreviews
{
    /// <summary>The largest preview (PNG) sent to, or accepted from, another process.</summary>
    public const int MaxBytes = 512 * 1024;

    /// <summary>Jobs whose sent previews are remembered; past it the oldest half is forgotten (their ends were not seen here).</summary>
    public const int Tracked = 256;

    private readonly Dictionary<Guid, (int Step, long Order)> sent = [];
    private long order;

    /// <summary>
    /// The message as it goes out: a progress event with the picture of its own step (<paramref name="preview"/>, taken
    /// when the event was queued) when that step's was not sent yet; otherwise pointing at the last preview sent (or at
    /// none), so the URL a receiver delivers always names a picture it has.
    /// </summary>
    public JobEventMessage Attach(JobEventMessage message, PreviewSnapshot? preview)
    {
        switch ((JobEventKind)message.Kind)
        {
            case JobEventKind.Progress when message.PreviewUrl is not null:
                int? last = sent.TryGetValue(message.JobId, out var before) ? before.Step : null;
                if (preview is not null && preview.Step != last && preview.Encode() is { Length: <= MaxBytes } png)
                {
                    if (sent.Count >= Tracked)
                    {
                        foreach (var (id, _) in sent.OrderBy(p => p.Value.Order).Take(Tracked / 2).ToList())
                        {
                            sent.Remove(id);
                        }
                    }

                    sent[message.JobId] = (preview.Step, ++order);
                    return message with { PreviewUrl = JobUrls.Preview(message.JobId, preview.Step), PreviewStep = preview.Step, Preview = png };
                }

                return message with { PreviewUrl = last is { } previous ? JobUrls.Preview(message.JobId, previous) : null };
            case JobEventKind.Started or JobEventKind.Succeeded or JobEventKind.Failed or JobEventKind.Cancelled or JobEventKind.Requeued:
                // A run begins or ends: the next run's first preview goes out at once.
                sent.Remove(message.JobId);
                return message;
            default:
                return message;
        }
    }
}
