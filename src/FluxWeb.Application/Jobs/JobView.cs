using System.Text.Json.Serialization;
using FluxWeb.Domain.Jobs;
using FluxWeb.Inference.Pipeline;

namespace FluxWeb.Application.Jobs;

/// <summary>A job as its owner sees it: the stored row with the worker's live position, step and preview laid over it.</summary>
public sealed record JobView(
    Guid Id,
    Guid BatchId,
    int BatchIndex,
    JobState State,
    string ModelId,
    JobMode Mode,
    string Prompt,
    int Width,
    int Height,
    int Steps,
    float? Guidance,
    // Seeds use all 64 bits; JavaScript numbers would round them.
    [property: JsonNumberHandling(JsonNumberHandling.WriteAsString | JsonNumberHandling.AllowReadingFromString)] ulong Seed,
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
    GenerationStage? Stage = null)
{
    internal static JobView From(Job job, LiveJobBoard board)
    {
        var live = job.State == JobState.Running ? board.Running(job.Id) : null;
        var step = live?.Step ?? job.Step;
        return new JobView(
            job.Id,
            job.BatchId,
            job.BatchIndex,
            job.State,
            job.ModelId,
            job.Mode,
            job.Prompt,
            job.ResolvedWidth,
            job.ResolvedHeight,
            job.ResolvedSteps,
            job.Guidance,
            job.Seed,
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
            live?.Stage);
    }
}
