using System.Collections.Concurrent;
using System.Collections.Frozen;
using FluxWeb.Inference.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Application.Jobs;

/// <summary>A running job's latest progress, as the worker last heard it.</summary>
public sealed class LiveProgress(Guid jobId, string ownerId, int totalSteps)
{
    private readonly Lock gate = new();
    private PreviewImage? preview;
    private int previewStep;
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
                return preview is null ? null : previewStep;
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

    /// <summary>The latest preview as PNG, encoded once per step however many tabs ask.</summary>
    public byte[]? PreviewPng()
    {
        lock (gate)
        {
            if (preview is null)
            {
                return null;
            }

            if (previewPng is null || previewPngStep != previewStep)
            {
                using var image = Image.LoadPixelData<Rgb24>(preview.Rgb, preview.Width, preview.Height);
                using var png = new MemoryStream();
                image.SaveAsPng(png);
                previewPng = png.ToArray();
                previewPngStep = previewStep;
            }

            return previewPng;
        }
    }
}

/// <summary>
/// What the worker knows that the database does not: the queue forecast (positions) and running
/// jobs' live step and preview. Previews live only here, in memory, for the life of the job and a
/// short while after it (<see cref="FinishedPreviewKept"/>).
/// </summary>
public sealed class LiveJobBoard(TimeProvider time)
{
    /// <summary>
    /// How long a finished job's last preview is still served. A page learns that a job ended from an event
    /// that may arrive after its browser asked for the latest preview; until the result replaces it there,
    /// that request must still find the picture it shows, not a 404 (a broken image for a moment).
    /// </summary>
    public static readonly TimeSpan FinishedPreviewKept = TimeSpan.FromMinutes(1);

    /// <summary>At most this many finished previews are kept, however many jobs end within <see cref="FinishedPreviewKept"/>.</summary>
    public const int FinishedPreviewsKept = 32;

    private readonly ConcurrentDictionary<Guid, LiveProgress> running = new();
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
            finished[jobId] = (live, now + FinishedPreviewKept);
            foreach (var (id, _) in finished.OrderBy(p => p.Value.Until).Take(Math.Max(0, finished.Count - FinishedPreviewsKept)))
            {
                finished.TryRemove(id, out _);
            }
        }
    }

    public LiveProgress? Running(Guid jobId) => running.GetValueOrDefault(jobId);

    /// <summary>The job's latest preview and owner: while it runs, and for <see cref="FinishedPreviewKept"/> after it ended.</summary>
    public LiveProgress? LatestPreview(Guid jobId) =>
        running.GetValueOrDefault(jobId)
        ?? (finished.TryGetValue(jobId, out var kept) && kept.Until > time.GetUtcNow() ? kept.Progress : null);

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
