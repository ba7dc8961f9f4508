using FluxWeb.Domain.Time;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Quotas;

/// <summary>Which quota day it is and when the next one starts, on the <see cref="AppClock"/> (tests move a fake one).</summary>
public sealed class QuotaClock(AppClock time, IOptions<QuotaOptions> options)
{
    private readonly TimeZoneInfo zone = options.Value.TryResolveTimeZone(out var z) ? z : TimeZoneInfo.Utc;
    private readonly TimeSpan dayStartsAt = options.Value.DayStartsAt;

    public DateTime UtcNow => time.GetUtcNow().UtcDateTime;

    public DateOnly Today => DayOf(time.GetUtcNow());

    public DateOnly DayOf(DateTimeOffset instant)
    {
        var local = TimeZoneInfo.ConvertTime(instant, zone);
        return DateOnly.FromDateTime(local.DateTime - dayStartsAt);
    }

    /// <summary>The instant the quota day after <paramref name="day"/> begins.</summary>
    public DateTimeOffset StartOf(DateOnly day)
    {
        var local = day.ToDateTime(TimeOnly.MinValue) + dayStartsAt;
        // A start that falls into a daylight-saving gap moves to the first valid minute after it.
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(1);
        }

        var offset = zone.GetUtcOffset(local);
        return new DateTimeOffset(DateTime.SpecifyKind(local, DateTimeKind.Unspecified), offset).ToUniversalTime();
    }

    public DateTimeOffset NextReset => StartOf(Today.AddDays(1));

    public string ZoneName => zone.Id;
}
