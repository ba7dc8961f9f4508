namespace FluxWeb.Application.Jobs;

/// <summary>Section <c>Queue</c>: how the worker drains the queue and how the scheduler chooses.</summary>
public sealed class QueueOptions
{
    public const string SectionName = "Queue";

    /// <summary>Jobs the engine runs at once. One for a single GPU; more only for a GPU with memory to spare.</summary>
    public int MaxConcurrentJobs { get; set; } = 1;

    /// <summary>Images one request may ask for (each becomes its own job).</summary>
    public int MaxBatchSize { get; set; } = 8;

    /// <summary>
    /// Times a job may be started. A job left running by a crash is queued again while it has
    /// attempts left, then failed with a reason: a job that crashes the server cannot loop forever.
    /// </summary>
    public int MaxAttempts { get; set; } = 2;

    /// <summary>How often the worker looks at the database even without a signal (jobs written by another process, e.g. the CLI).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a worker's claim on a running job holds without renewal. The worker renews it every third
    /// of this while the job runs; a job whose lease passed (its worker hung or its process died) is taken
    /// back by the lease sweeper, which also looks every third of this. A box that crashed gets its
    /// jobs back within this long after it starts again. Between 5 seconds and 10 minutes.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often a running job's lease is renewed, and how often the sweeper looks for expired ones.</summary>
    public TimeSpan LeaseRenewalInterval => LeaseDuration / 3;

    /// <summary>Step progress is pushed live on every step but written to the database at most this often.</summary>
    public TimeSpan ProgressWriteInterval { get; set; } = TimeSpan.FromSeconds(1);

    public SchedulingSettings Scheduling { get; set; } = new();
}

/// <summary>Section <c>Queue:Scheduling</c>; see docs/decisions/0007-fair-scheduling-and-quotas.md.</summary>
public sealed class SchedulingSettings
{
    /// <summary>How far back GPU-seconds count when deciding whose turn it is.</summary>
    public TimeSpan FairShareWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The longest a job can be held back because jobs for the already loaded model run first
    /// (loading a klein model costs seconds to a minute). Zero turns model affinity off.
    /// </summary>
    public TimeSpan ModelSwitchMaxWait { get; set; } = TimeSpan.FromSeconds(30);
}
