using FluxWeb.Application.Jobs;

namespace FluxWeb.Testing;

/// <summary>
/// The cluster's worker directory while its dispatcher cannot answer (moving to another process after the one it ran
/// in stopped, or that process hung): each call fails as Orleans' does, after its response timeout. Switched with
/// <see cref="Down"/>; otherwise it answers from <paramref name="real"/> (required to ever be switched up).
/// </summary>
public sealed class DispatcherDown(IWorkerDirectory? real = null) : IWorkerDirectory
{
    public volatile bool Down = true;

    public Task<IReadOnlyList<WorkerStatus>> ListAsync(CancellationToken cancellationToken = default) =>
        Down ? Task.FromException<IReadOnlyList<WorkerStatus>>(NoAnswer()) : Up.ListAsync(cancellationToken);

    public Task<bool> SetDrainingAsync(string workerId, bool draining, CancellationToken cancellationToken = default) =>
        Down ? Task.FromException<bool>(NoAnswer()) : Up.SetDrainingAsync(workerId, draining, cancellationToken);

    private IWorkerDirectory Up => real ?? throw new InvalidOperationException("This directory has nothing to answer with once up.");

    private static TimeoutException NoAnswer() => new("Response did not arrive on time in 00:00:05 for message: Request [S127.0.0.1:11111:0 sys.client]->[S127.0.0.1:11112:0 fluxweb-job-dispatcher/0]");
}
