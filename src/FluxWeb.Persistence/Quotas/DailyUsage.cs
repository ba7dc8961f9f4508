using FluxWeb.Persistence.Accounts;

namespace FluxWeb.Persistence.Quotas;

/// <summary>
/// The usage ledger: one row per user and quota day. Images are reserved when jobs are queued
/// (and given back when they fail or are cancelled); GPU-seconds are charged with measured time
/// when a job ends. Kept apart from jobs so deleting history never gives quota back.
/// </summary>
public sealed class DailyUsage
{
    public required string UserId { get; set; }

    public FluxUser? User { get; set; }

    public DateOnly Day { get; set; }

    public int Images { get; set; }

    public double GpuSeconds { get; set; }

    /// <summary>Requests refused at the door that day (quota, licence, model access, invalid input), for the usage view.</summary>
    public int Rejected { get; set; }
}
