namespace FluxWeb.Application.Quotas;

/// <summary>One role's or user's limits. Null means unlimited.</summary>
public sealed class QuotaLimits
{
    public int? ImagesPerDay { get; set; }

    public double? GpuSecondsPerDay { get; set; }

    /// <summary>Jobs waiting in the queue at once (a running job no longer counts).</summary>
    public int? MaxQueuedJobs { get; set; }

    public static QuotaLimits Unlimited => new();
}

public sealed class QuotaRoleDefaults
{
    public QuotaLimits User { get; set; } = new() { ImagesPerDay = 500, GpuSecondsPerDay = 3600, MaxQueuedJobs = 20 };

    public QuotaLimits Admin { get; set; } = QuotaLimits.Unlimited;
}

/// <summary>Section <c>Quotas</c>: defaults per role (overrides per user live in the database) and when a quota day starts.</summary>
public sealed class QuotaOptions
{
    public const string SectionName = "Quotas";

    public QuotaRoleDefaults Roles { get; set; } = new();

    /// <summary>The time zone whose clock the day boundary follows (IANA id, e.g. <c>Europe/Berlin</c>).</summary>
    public string TimeZone { get; set; } = "UTC";

    /// <summary>When a quota day starts, on <see cref="TimeZone"/>'s clock.</summary>
    public TimeSpan DayStartsAt { get; set; } = TimeSpan.Zero;

    public bool TryResolveTimeZone(out TimeZoneInfo zone)
    {
        try
        {
            zone = TimeZoneInfo.FindSystemTimeZoneById(TimeZone);
            return true;
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            zone = TimeZoneInfo.Utc;
            return false;
        }
    }
}
