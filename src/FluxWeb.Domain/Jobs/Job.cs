using FluxWeb.Domain.Generation;

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

    /// <summary>
    /// What this image is made with, exactly as asked, with this image's own seed; the job runs with
    /// exactly these settings (again after a restart). Stored in the job's own columns.
    /// </summary>
    public required GenerationSettings Settings { get; set; }

    /// <summary>What kind of generation it is (from the settings' inputs; stored so listings can show it without reading them).</summary>
    public JobMode Mode { get; set; }

    /// <summary>What the engine resolved at submission: the size and step count the job will produce.</summary>
    public int ResolvedWidth { get; set; }

    public int ResolvedHeight { get; set; }

    public int ResolvedSteps { get; set; }

    /// <summary>The settings with the size and step count the engine resolved: what the image was really made with.</summary>
    public GenerationSettings ResolvedSettings() => Settings with { Width = ResolvedWidth, Height = ResolvedHeight, Steps = ResolvedSteps };

    public JobState State { get; set; } = JobState.Queued;

    public DateTime EnqueuedUtc { get; set; }

    public DateTime? StartedUtc { get; set; }

    public DateTime? FinishedUtc { get; set; }

    /// <summary>How many times a worker claimed the job; a job left running by a crash is retried only while this is below the limit.</summary>
    public int Attempts { get; set; }

    /// <summary>
    /// The worker that holds the job's lease while it runs (<c>{machine}/{process id}/{device}</c>); null
    /// while the job waits, kept once it ended (who ran it).
    /// </summary>
    public string? WorkerId { get; set; }

    /// <summary>
    /// Goes up by one on every claim. A worker's writes to the job count only while the epoch it claimed
    /// is still the job's: a worker whose lease was reclaimed cannot record a result over another's.
    /// </summary>
    public long Epoch { get; set; }

    /// <summary>
    /// Until when the worker's lease holds; the worker renews it while the job runs. A running job whose
    /// lease has passed is taken back (queued again or failed) by any process's lease sweeper.
    /// </summary>
    public DateTime? LeaseExpiresUtc { get; set; }

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

    /// <summary>
    /// The board the owner asked the result to go on ("auto-add new results"). Checked again when the job
    /// succeeds: a board deleted since, or no longer the owner's to add to, gets nothing (the job still succeeds).
    /// </summary>
    public Guid? AutoAddBoardId { get; set; }

    /// <summary>
    /// What the owner should know about a job that succeeded, readable by them: its result did not go on the board it
    /// asked for. Written with the success, never after it (a finished job does not change).
    /// </summary>
    public string? Notice { get; set; }
}
