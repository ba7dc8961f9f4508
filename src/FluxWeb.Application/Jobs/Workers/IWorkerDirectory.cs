namespace FluxWeb.Application.Jobs;

/// <summary>
/// Every queue worker of the cluster and the switch to drain or resume one, wherever it runs. The cluster
/// answers from its dispatcher; a process outside a cluster knows only its own workers.
/// </summary>
public interface IWorkerDirectory
{
    Task<IReadOnlyList<WorkerStatus>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>False when no live worker has that id.</summary>
    Task<bool> SetDrainingAsync(string workerId, bool draining, CancellationToken cancellationToken = default);
}

/// <summary>
/// The cluster's workers cannot be listed or switched now: the dispatcher did not answer (it is moving to another
/// process after the one it lived on stopped, or that process hangs). The message says so to an administrator.
/// </summary>
public sealed class WorkersUnavailableException(string message, Exception inner) : Exception(message, inner);

/// <summary>This process's workers only (none in a process without them).</summary>
internal sealed class LocalWorkerDirectory(IServiceProvider services) : IWorkerDirectory
{
    private IReadOnlyList<DeviceWorker> Workers => (services.GetService(typeof(JobWorkers)) as JobWorkers)?.Workers ?? [];

    public Task<IReadOnlyList<WorkerStatus>> ListAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<WorkerStatus>>([.. Workers.Select(w => w.Status())]);

    public Task<bool> SetDrainingAsync(string workerId, bool draining, CancellationToken cancellationToken = default)
    {
        var worker = Workers.FirstOrDefault(w => string.Equals(w.WorkerId, workerId, StringComparison.Ordinal));
        worker?.SetDraining(draining);
        return Task.FromResult(worker is not null);
    }
}
