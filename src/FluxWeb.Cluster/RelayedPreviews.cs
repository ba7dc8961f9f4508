using FluxWeb.Application.Jobs;

namespace FluxWeb.Cluster;

/// <summary>
/// Which step previews go out with relayed progress events (see <see cref="ClusterRelay"/>): a job's latest preview
/// when it is newer than the last one sent and at least <see cref="Interval"/> has passed since, and never one over
/// <see cref="MaxBytes"/>. Used by the relay's one drain loop only, so it needs no lock.
/// </summary>
internal sealed class RelayedPreviews(LiveJobBoard board, TimeProvider clock)
{
    /// <summary>The shortest time between two previews of one job sent to the other processes.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    /// <summary>The largest preview (PNG) sent to, or accepted from, another process.</summary>
    public const int MaxBytes = 512 * 1024;

    /// <summary>Jobs whose sent previews are remembered; past it the oldest half is forgotten (their ends were not seen here).</summary>
    public const int Tracked = 256;

    private readonly Dictionary<Guid, (int Step, long At)> sent = [];

    /// <summary>
    /// The message as it goes out: a progress event with the job's preview when one is new and due; otherwise pointing
    /// at the last preview sent (or at none), so the URL a receiver delivers always names a picture it has.
    /// </summary>
    public JobEventMessage Attach(JobEventMessage message)
    {
        switch ((JobEventKind)message.Kind)
        {
            case JobEventKind.Progress when message.PreviewUrl is not null:
                (int Step, long At)? last = sent.TryGetValue(message.JobId, out var before) ? before : null;
                if ((last is null || clock.GetElapsedTime(last.Value.At) >= Interval)
                    && board.LatestPreview(message.JobId)?.EncodedPreview() is { } latest
                    && latest.Step != last?.Step
                    && latest.Png.Length <= MaxBytes)
                {
                    if (sent.Count >= Tracked)
                    {
                        foreach (var (id, _) in sent.OrderBy(p => p.Value.At).Take(Tracked / 2).ToList())
                        {
                            sent.Remove(id);
                        }
                    }

                    sent[message.JobId] = (latest.Step, clock.GetTimestamp());
                    return message with { PreviewUrl = JobUrls.Preview(message.JobId, latest.Step), PreviewStep = latest.Step, Preview = latest.Png };
                }

                return message with { PreviewUrl = last is { } previous ? JobUrls.Preview(message.JobId, previous.Step) : null };
            case JobEventKind.Started or JobEventKind.Succeeded or JobEventKind.Failed or JobEventKind.Cancelled or JobEventKind.Requeued:
                // A run begins or ends: the next run's first preview goes out at once.
                sent.Remove(message.JobId);
                return message;
            default:
                return message;
        }
    }
}
