using System.Threading.Channels;
using FluxWeb.Domain.Time;

namespace FluxWeb.Application.Jobs;

/// <summary>Says the queue changed here (a submit, a cancel): the cluster passes it to the dispatcher, which assigns at once instead of at its next poll.</summary>
public sealed class JobQueueSignal(AppClock time)
{
    private readonly Channel<bool> wakeUps = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Notify() => wakeUps.Writer.TryWrite(true);

    /// <summary>Returns when notified, after <paramref name="timeout"/>, or throws when <paramref name="cancellationToken"/> fires.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timer = new CancellationTokenSource(timeout, time);
        using var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        try
        {
            await wakeUps.Reader.ReadAsync(either.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The poll interval passed without a signal.
        }
    }
}
