using FluxWeb.Persistence.Accounts;

namespace FluxWeb.Persistence.Quotas;

/// <summary>
/// An administrator's override of one user's limits. Per value: null inherits the role's default,
/// a negative value means unlimited, zero or more is the limit.
/// </summary>
public sealed class UserQuota
{
    public required string UserId { get; set; }

    public FluxUser? User { get; set; }

    public int? ImagesPerDay { get; set; }

    public double? GpuSecondsPerDay { get; set; }

    public int? MaxQueuedJobs { get; set; }

    public DateTime UpdatedUtc { get; set; }
}
