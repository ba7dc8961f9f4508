namespace FluxWeb.Inference.Engine;

/// <summary>
/// Work done off the caller's thread, one item after another in the order given (step previews:
/// the next step must not wait for a PNG-bound preview, and previews must not arrive out of order).
/// <see cref="Drain"/> waits for what is queued and rethrows its first failure.
/// </summary>
public sealed class OrderedBackgroundWork : IDisposable
{
    private readonly Lock gate = new();
    private Task tail = Task.CompletedTask;
    private Exception? failure;

    public void Enqueue(Action work)
    {
        lock (gate)
        {
            tail = tail.ContinueWith(
                _ =>
                {
                    if (failure is not null)
                    {
                        return;
                    }

                    try
                    {
                        work();
                    }
                    catch (Exception ex)
                    {
                        failure = ex;
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.None,
                TaskScheduler.Default);
        }
    }

    public void Drain()
    {
        Task last;
        lock (gate)
        {
            last = tail;
        }

        last.Wait();
        if (failure is { } ex)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex).Throw();
        }
    }

    /// <summary>Waits without rethrowing (a job that failed or was cancelled still lets its queued previews finish).</summary>
    public void Dispose()
    {
        Task last;
        lock (gate)
        {
            last = tail;
        }

        last.Wait();
    }
}
