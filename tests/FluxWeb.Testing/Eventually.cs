namespace FluxWeb.Testing;

/// <summary>
/// The one way a test waits for something another thread does (the worker, a hub, a circuit): poll a
/// condition until it holds or a deadline passes, then fail with what was last seen. Never a fixed sleep.
/// </summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(20);

    /// <summary>Waits until <paramref name="condition"/> holds; <paramref name="because"/> says what was expected (and may describe what was seen).</summary>
    public static Task Until(Func<bool> condition, Func<string> because, TimeSpan? timeout = null) =>
        Until(() => Task.FromResult(condition()), because, timeout);

    public static Task Until(Func<bool> condition, string because, TimeSpan? timeout = null) =>
        Until(() => Task.FromResult(condition()), () => because, timeout);

    public static Task Until(Func<Task<bool>> condition, string because, TimeSpan? timeout = null) =>
        Until(condition, () => because, timeout);

    public static async Task Until(Func<Task<bool>> condition, Func<string> because, TimeSpan? timeout = null)
    {
        await Value(async () => await condition() ? true : (bool?)null, _ => true, because, timeout);
    }

    /// <summary>Reads <paramref name="read"/> until <paramref name="until"/> holds for what it returned, and returns that.</summary>
    public static async Task<T> Value<T>(Func<Task<T>> read, Func<T, bool> until, Func<string> because, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            var value = await read();
            if (value is not null && until(value))
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Still not so after {(timeout ?? DefaultTimeout).TotalSeconds:0.#} s: {because()}");
            }

            await Task.Delay(Interval);
        }
    }
}
