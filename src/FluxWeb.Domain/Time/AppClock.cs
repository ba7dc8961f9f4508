namespace FluxWeb.Domain.Time;

/// <summary>
/// The clock FluxWeb's own rules read: leases, quota days, expiries, job times, idle unloading.
/// </summary>
/// <remarks>
/// It is a type of its own, not the container's <see cref="TimeProvider"/>, because Orleans reads that one for its
/// membership and its timers. A test that moves a fake clock to expire a lease must not also move the cluster's
/// failure detector and timers: a lease test advancing its clock a second at a time under Orleans' timers once
/// livelocked a CI run. Production gives both the system clock.
/// </remarks>
public sealed class AppClock(TimeProvider source) : TimeProvider
{
    /// <summary>The system clock, which every process runs on outside tests.</summary>
    public static AppClock Real { get; } = new(TimeProvider.System);

    public override DateTimeOffset GetUtcNow() => source.GetUtcNow();

    public override long GetTimestamp() => source.GetTimestamp();

    public override long TimestampFrequency => source.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => source.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        source.CreateTimer(callback, state, dueTime, period);
}
