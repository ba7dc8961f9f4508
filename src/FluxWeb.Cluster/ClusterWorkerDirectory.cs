using FluxWeb.Application.Jobs;

namespace FluxWeb.Cluster;

/// <summary>The workers of every process, as the dispatcher knows them (dead ones for a while too).</summary>
internal sealed class ClusterWorkerDirectory(IGrainFactory grains) : IWorkerDirectory
{
    private IJobDispatcherGrain Dispatcher => grains.GetGrain<IJobDispatcherGrain>(0);

    public async Task<IReadOnlyList<WorkerStatus>> ListAsync(CancellationToken cancellationToken = default) =>
        [.. (await Dispatcher.Workers().WaitAsync(cancellationToken)).Select(w => w.ToStatus())];

    public Task<bool> SetDrainingAsync(string workerId, bool draining, CancellationToken cancellationToken = default) =>
        Dispatcher.SetDraining(workerId, draining).WaitAsync(cancellationToken);
}
