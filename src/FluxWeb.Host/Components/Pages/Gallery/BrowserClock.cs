using System.Globalization;
using Microsoft.JSInterop;

namespace FluxWeb.Host.Components.Pages.Gallery;

/// <summary>
/// The browser's time zone, so the gallery shows and filters dates on the user's own clock. The
/// server knows only UTC; until the browser has answered (and when it cannot), times are UTC and say so.
/// </summary>
internal static class BrowserClock
{
    public const string ModulePath = "./js/gallery.js";

    public static async Task<TimeZoneInfo> TimeZoneAsync(IJSObjectReference module)
    {
        var id = await module.InvokeAsync<string?>("timeZone");
        return !string.IsNullOrEmpty(id) && TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) ? zone : TimeZoneInfo.Utc;
    }

    public static string Format(DateTime utc, TimeZoneInfo zone) =>
        TimeZoneInfo.ConvertTimeFromUtc(DateTime.SpecifyKind(utc, DateTimeKind.Utc), zone).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    public static string Name(TimeZoneInfo zone) => zone == TimeZoneInfo.Utc ? "UTC" : zone.Id;

    /// <summary>The instant a calendar day starts on <paramref name="zone"/>'s clock (a midnight skipped by daylight saving moves to the first valid minute).</summary>
    public static DateTime StartOfDayUtc(DateOnly day, TimeZoneInfo zone)
    {
        var local = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified);
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(1);
        }

        return TimeZoneInfo.ConvertTimeToUtc(local, zone);
    }
}
