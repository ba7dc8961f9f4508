using System.Collections.Concurrent;
using System.Collections.Frozen;
using FluxWeb.Domain.Time;
using FluxWeb.Inference.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// A running job's latest progress: as the worker last heard it, or (on the cluster's other processes) as its relayed
/// events told (<see cref="LiveJobBoard.ApplyRelayed"/>), whose preview arrives already encoded.
/// </summary>
public sealed class LiveProgress(Guid jobId, string ownerId, int totalSteps)
{
    private readonly Lock gate = new();
    private PreviewImage? preview;
    private int? previewStep;
    private byte[]? previewPng;
    private int previewPngStep = -1;

    public Guid JobId { get; } = jobId;

    public string OwnerId { get; } = ownerId;

    public GenerationStage Stage { get; private set; } = GenerationStage.LoadingModel;

    public int Step { get; private set; }

    public int TotalSteps { get; private set; } = totalSteps;

    public int? PreviewStep
    {
        get
        {
            lock (gate)
            {
                return previewStep;
            }
        }
    }

    public void Update(GenerationProgress progress)
    {
        lock (gate)
        {
            Stage = progress.Stage;
            Step = progress.Step;
            TotalSteps = progress.TotalSteps > 0 ? progress.TotalSteps : TotalSteps;
            if (progress.Preview is { } next && next.Width > 0 && next.Height > 0 && next.Rgb.Length == next.Width * next.Height * 3)
            {
                preview = next;
                previewStep = progress.Step;
            }
        }
    }

    /// <summary>A preview encoded by the process that runs the job (relayed): served as it is.</summary>
    public void ShowEncoded(int step, byte[] png)
    {
        lock (gate)
        {
            preview = null;
            previewStep = step;
            previewPng = png;
            previewPngStep = step;
        }
    }

    /// <summary>
    /// The preview as it is now, to be encoded later and elsewhere: the cluster relay takes it when it queues a step's
    /// event, so the event carries the picture of its own step however far the engine has gone by the time it is sent.
    /// Cheap: a step's pixels are never changed once reported, so this keeps a reference, not a copy.
    /// </summary>
    public PreviewSnapshot? SnapshotPreview()
    {
        lock (gate)
        {
            return previewStep is { } step ? new PreviewSnapshot(step, preview, previewPngStep == step ? previewPng : null) : null;
        }
    }

    /// <summary>The latest preview as PNG, encoded once per step however many tabs ask.</summary>
    public byte[]? PreviewPng() => EncodedPreview()?.Png;

    /// <summary>The latest preview as PNG with the step it shows (the step may be newer than the last one asked for).</summary>
    public (int Step, byte[] Png)? EncodedPreview()
    {
        lock (gate)
        {
            if (previewStep is not { } step)
            {
                return null;
            }

            if (previewPng is null || previewPngStep != step)
            {
                if (preview is null)
                {
                    return null;
                }

                previewPng = PreviewSnapshot.EncodePng(preview);
                previewPngStep = step;
            }

            return (step, previewPng);
        }
    }
}

/// <summary>One step's preview as raw pixels (on the process that ran the step) or already encoded (relayed to it).</summary>
public sealed record PreviewSnapshot(int Step, PreviewImage? Pixels, byte[]? Png)
{
    /// <summary>The PNG this step's preview is served as; null when there is nothing to encode.</summary>
    public byte[]? Encode() => Png ?? (Pixels is { } pixels ? EncodePng(pixels) : null);

    internal static byte[] EncodePng(PreviewImage preview)
    {
        using var image = Image.LoadPixelData<Rgb24>(preview.Rgb, preview.Width, preview.Height);
        using var png = new MemoryStream();
        image.SaveAsPng(png);
        return png.ToArray();
    }
}

/// <summary>
/// What the worker knows that the database does not: the queue forecast (positions) and running
/// jobs' live step and preview. Previews live only in memory, for the life of the job and a
/// short while after it (<see cref="FinishedPreviewKept"/>): in the process that runs the job, and in
/// the cluster's other processes from its relayed events (<see cref="ApplyRelayed"/>), so a web node
/// serves the preview of a job that runs on a worker node.
/// </summary>
public sealed class LiveJobBoard(AppClock time)
{
    /// <summary>
    /// How long a finished job's last preview is still served. A page learns that a job ended from an event
    /// that may arrive after its browser asked for the latest preview; until the result replaces it there,
    /// that request must still find the picture it shows, not a 404 (a broken image for a moment).
    /// </summary>
    public static readonly TimeSpan FinishedPreviewKept = TimeSpan.FromMinutes(1);

    /// <summary>At most this many finished previews are kept, however many jobs end within <see cref="FinishedPreviewKept"/>.</summary>
    public const int FinishedPreviewsKept = 32;

    /// <summary>
    /// How long a job that runs on another process is remembered after its last relayed event. Its end is relayed
    /// too, but relaying is best effort (and a killed worker relays nothing), so this bounds what a lost end leaves;
    /// a job still running past it is remembered again from its next event.
    /// </summary>
    public static readonly TimeSpan RelayedSilenceKept = TimeSpan.FromMinutes(10);

    /// <summary>At most this many jobs of other processes are remembered at once (the cluster's workers, with room to spare).</summary>
    public const int RelayedKept = 256;

    private readonly ConcurrentDictionary<Guid, LiveProgress> running = new();
    private readonly ConcurrentDictionary<Guid, (LiveProgress Progress, DateTimeOffset Heard)> relayed = new();
    private readonly Lock relayedGate = new();
    private readonly ConcurrentDictionary<Guid, (LiveProgress Progress, DateTimeOffset Until)> finished = new();
    private FrozenDictionary<Guid, int> positions = FrozenDictionary<Guid, int>.Empty;

    public LiveProgress Start(Guid jobId, string ownerId, int totalSteps) => running[jobId] = new LiveProgress(jobId, ownerId, totalSteps);

    public void Finish(Guid jobId)
    {
        var now = time.GetUtcNow();
        foreach (var (id, kept) in finished)
        {
            if (kept.Until <= now)
            {
                finished.TryRemove(id, out _);
            }
        }

        if (running.TryRemove(jobId, out var live) && live.PreviewStep is not null)
        {
            Keep(jobId, live, now);
        }
    }

    private void Keep(Guid jobId, LiveProgress live, DateTimeOffset now)
    {
        finished[jobId] = (live, now + FinishedPreviewKept);
        foreach (var (id, _) in finished.OrderBy(p => p.Value.Until).Take(Math.Max(0, finished.Count - FinishedPreviewsKept)))
        {
            finished.TryRemove(id, out _);
        }
    }

    /// <summary>The job's live progress while it runs here or, as its relayed events told, on another process.</summary>
    public LiveProgress? Running(Guid jobId) => running.GetValueOrDefault(jobId) ?? RunningElsewhere(jobId);

    /// <summary>The job's latest preview and owner: while it runs, and for <see cref="FinishedPreviewKept"/> after it ended.</summary>
    public LiveProgress? LatestPreview(Guid jobId) =>
        running.GetValueOrDefault(jobId)
        ?? (RunningElsewhere(jobId) is { PreviewStep: not null } elsewhere ? elsewhere : null)
        ?? (finished.TryGetValue(jobId, out var kept) && kept.Until > time.GetUtcNow() ? kept.Progress : null);

    /// <summary>
    /// A live event of a job that runs on another process of the cluster, with the preview encoded there when the
    /// event carries one: remembered like a job of this process's (the same owner on the preview, the same
    /// <see cref="FinishedPreviewKept"/> after its end), so this process serves it to the job's owner.
    /// </summary>
    public void ApplyRelayed(JobEvent jobEvent, int? previewStep, byte[]? previewPng)
    {
        ArgumentNullException.ThrowIfNull(jobEvent);
        var now = time.GetUtcNow();
        lock (relayedGate)
        {
            ForgetSilentRelayed(now);
            switch (jobEvent.Kind)
            {
                case JobEventKind.Started:
                    // A new run (a requeued job's too): nothing of an earlier run's progress belongs to it.
                    relayed[jobEvent.JobId] = (new LiveProgress(jobEvent.JobId, jobEvent.OwnerId, jobEvent.TotalSteps), now);
                    finished.TryRemove(jobEvent.JobId, out _);
                    break;
                case JobEventKind.Progress:
                    var live = relayed.TryGetValue(jobEvent.JobId, out var known) && known.Progress.OwnerId == jobEvent.OwnerId
                        ? known.Progress
                        : new LiveProgress(jobEvent.JobId, jobEvent.OwnerId, jobEvent.TotalSteps);
                    live.Update(new GenerationProgress(jobEvent.Stage ?? live.Stage, jobEvent.Step, jobEvent.TotalSteps, TimeSpan.Zero));
                    if (previewStep is { } step && previewPng is { Length: > 0 } png)
                    {
                        live.ShowEncoded(step, png);
                    }

                    relayed[jobEvent.JobId] = (live, now);
                    break;
                case JobEventKind.Succeeded or JobEventKind.Failed or JobEventKind.Cancelled or JobEventKind.Requeued:
                    // Kept like a local job's last preview; but never over a run of the same job that this process has begun since.
                    if (relayed.TryRemove(jobEvent.JobId, out var ended) && ended.Progress.PreviewStep is not null && !running.ContainsKey(jobEvent.JobId))
                    {
                        Keep(jobEvent.JobId, ended.Progress, now);
                    }

                    break;
            }

            foreach (var (id, _) in relayed.OrderBy(p => p.Value.Heard).Take(Math.Max(0, relayed.Count - RelayedKept)))
            {
                relayed.TryRemove(id, out _);
            }
        }
    }

    private LiveProgress? RunningElsewhere(Guid jobId) =>
        relayed.TryGetValue(jobId, out var heard) && heard.Heard + RelayedSilenceKept > time.GetUtcNow() ? heard.Progress : null;

    private void ForgetSilentRelayed(DateTimeOffset now)
    {
        foreach (var (id, heard) in relayed)
        {
            if (heard.Heard + RelayedSilenceKept <= now)
            {
                relayed.TryRemove(id, out _);
            }
        }
    }

    public int? PositionOf(Guid jobId) => positions.TryGetValue(jobId, out var position) ? position : null;

    public IReadOnlyDictionary<Guid, int> Positions => positions;

    /// <summary>Replaces the forecast; returns the jobs whose position changed (new ones included).</summary>
    public IReadOnlyList<(Guid JobId, int Position)> ReplacePositions(IReadOnlyList<Guid> order)
    {
        var next = order.Select((id, index) => (id, index)).ToFrozenDictionary(p => p.id, p => p.index + 1);
        var previous = Interlocked.Exchange(ref positions, next);
        return next.Where(p => !previous.TryGetValue(p.Key, out var before) || before != p.Value)
            .Select(p => (p.Key, p.Value))
            .ToList();
    }
}
