namespace FluxWeb.Application.Quotas;

public enum QuotaLimitKind
{
    MaxQueuedJobs,
    ImagesPerDay,
    GpuSecondsPerDay,
}

/// <summary>Which limit refused a request, and when it resets (null: when queued jobs finish).</summary>
public sealed record QuotaRefusal(QuotaLimitKind Limit, string Message, DateTimeOffset? ResetsAtUtc);
