namespace FluxWeb.Domain.Jobs;

/// <summary>
/// One image to generate: every request becomes one row per image (a batch of N is N jobs), so
/// fairness, cancellation and quotas work per image. The row carries everything needed to run it
/// again after a restart.
/// </summary>
public sealed class Job
{
    public Guid Id { get; set; }

    /// <summary>The account that asked for it (a foreign key to the accounts table; the entity has no navigation to it).</summary>
    public required string OwnerId { get; set; }

    /// <summary>Jobs submitted together share a batch id; <see cref="BatchIndex"/> is their order (seed + index).</summary>
    public Guid BatchId { get; set; }

    public int BatchIndex { get; set; }

    public required string ModelId { get; set; }

    public JobMode Mode { get; set; }

    public required string Prompt { get; set; }

    /// <summary>As requested (null: the model's default). The job runs with exactly what was asked.</summary>
    public int? Width { get; set; }

    public int? Height { get; set; }

    public int? Steps { get; set; }

    public float? Guidance { get; set; }

    /// <summary>What the engine resolved at submission: the size and step count the job will produce.</summary>
    public int ResolvedWidth { get; set; }

    public int ResolvedHeight { get; set; }

    public int ResolvedSteps { get; set; }

    public ulong Seed { get; set; }

    public float Strength { get; set; } = 1f;

    public bool FeatherComposite { get; set; }

    /// <summary>Uploaded (or earlier generated) images of the owner, in order.</summary>
    public List<Guid> ReferenceImageIds { get; set; } = [];

    public Guid? SourceImageId { get; set; }

    public Guid? MaskImageId { get; set; }

    public JobState State { get; set; } = JobState.Queued;

    public DateTime EnqueuedUtc { get; set; }

    public DateTime? StartedUtc { get; set; }

    public DateTime? FinishedUtc { get; set; }

    /// <summary>How many times a worker claimed the job; a job left running by a crash is retried only while this is below the limit.</summary>
    public int Attempts { get; set; }

    public int Step { get; set; }

    public int TotalSteps { get; set; }

    /// <summary>Measured time the job held the GPU (charged to the owner's daily quota).</summary>
    public double GpuSeconds { get; set; }

    /// <summary>Expected GPU time at submission, from recent jobs on the same model; held against the daily GPU quota while the job waits.</summary>
    public double EstimatedGpuSeconds { get; set; }

    /// <summary>The quota day whose image allowance this job reserved (refunded there when it fails or is cancelled).</summary>
    public DateOnly QuotaDay { get; set; }

    public bool CancelRequested { get; set; }

    /// <summary>Who cancelled: the owner or an administrator.</summary>
    public string? CancelledBy { get; set; }

    /// <summary>Why it failed or was cancelled, readable by the owner.</summary>
    public string? Error { get; set; }

    public Guid? OutputImageId { get; set; }
}
