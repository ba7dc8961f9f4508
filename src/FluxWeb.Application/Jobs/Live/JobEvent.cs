using FluxWeb.Domain.Jobs;
using FluxWeb.Inference.Pipeline;

namespace FluxWeb.Application.Jobs;

public enum JobEventKind
{
    Queued,
    PositionChanged,
    Started,
    Progress,
    Succeeded,
    Failed,
    Cancelled,

    /// <summary>The server stopped while the job ran; it waits in the queue again.</summary>
    Requeued,
}

/// <summary>
/// One change to one job, pushed only to its owner's subscriptions (and administrators who
/// subscribed to that job). Images travel as URLs, never as bytes.
/// </summary>
public sealed record JobEvent(JobEventKind Kind, Guid JobId, string OwnerId, JobState State, DateTime AtUtc)
{
    /// <summary>1: starts next. Only for queued jobs.</summary>
    public int? QueuePosition { get; init; }

    public GenerationStage? Stage { get; init; }

    public int Step { get; init; }

    public int TotalSteps { get; init; }

    public string? PreviewUrl { get; init; }

    public Guid? OutputImageId { get; init; }

    public string? OutputUrl { get; init; }

    public string? Error { get; init; }
}
