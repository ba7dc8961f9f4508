using System.Text.Json.Serialization;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Jobs;
using FluxWeb.Inference.Pipeline;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// A job as its owner sees it: the stored row with the worker's live position, step and preview laid
/// over it. <see cref="Settings"/> are what the image is made with (the resolved size and steps).
/// </summary>
public sealed record JobView(
    Guid Id,
    Guid BatchId,
    int BatchIndex,
    JobState State,
    JobMode Mode,
    // The API's job JSON keeps its flat fields (modelId, prompt, width, ...) below; the settings are not repeated there.
    [property: JsonIgnore] GenerationSettings Settings,
    DateTime EnqueuedUtc,
    DateTime? StartedUtc,
    DateTime? FinishedUtc,
    int? QueuePosition,
    int Step,
    int TotalSteps,
    double GpuSeconds,
    string? Error,
    Guid? OutputImageId,
    string? OutputUrl,
    string? PreviewUrl,
    // Where a running job is in the pipeline (loading the model, denoising, decoding...); null otherwise.
    GenerationStage? Stage = null,
    // What the owner should know about a job that succeeded (its result did not go on the board it asked for).
    string? Notice = null)
{
    public string ModelId => Settings.ModelId;

    public string Prompt => Settings.Prompt;

    public string NegativePrompt => Settings.NegativePrompt;

    public int Width => Settings.Width ?? 0;

    public int Height => Settings.Height ?? 0;

    public int Steps => Settings.Steps ?? 0;

    public float? Guidance => Settings.Guidance;

    // Seeds use all 64 bits; JavaScript numbers would round them.
    [JsonNumberHandling(JsonNumberHandling.WriteAsString | JsonNumberHandling.AllowReadingFromString)]
    public ulong Seed => Settings.Seed ?? 0;

    internal static JobView From(Job job, LiveJobBoard board)
    {
        var live = job.State == JobState.Running ? board.Running(job.Id) : null;
        var step = live?.Step ?? job.Step;
        return new JobView(
            job.Id,
            job.BatchId,
            job.BatchIndex,
            job.State,
            job.Mode,
            job.ResolvedSettings(),
            job.EnqueuedUtc,
            job.StartedUtc,
            job.FinishedUtc,
            job.State == JobState.Queued ? board.PositionOf(job.Id) : null,
            step,
            live?.TotalSteps ?? job.TotalSteps,
            job.GpuSeconds,
            job.Error,
            job.OutputImageId,
            job.OutputImageId is { } image ? JobUrls.Image(image) : null,
            live?.PreviewStep is { } previewStep ? JobUrls.Preview(job.Id, previewStep) : null,
            live?.Stage,
            job.Notice);
    }
}
