using FluxWeb.Inference.Devices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// This process's queue workers: one per device it serves (<see cref="IDeviceEngines"/>). The only way work
/// reaches a GPU. Each worker runs what the cluster's dispatcher offers it. The dispatcher (which decides)
/// lives in the cluster; this class only runs.
/// </summary>
public sealed class JobWorkers : BackgroundService
{
    public JobWorkers(IDeviceEngines engines, IWorkerNode node, IServiceProvider services, IOptions<QueueOptions> options)
    {
        var deviceLogger = services.GetRequiredService<ILoggerFactory>().CreateLogger<DeviceWorker>();
        Workers = [.. engines.Engines.Select(e => new DeviceWorker(node.NodeId, node.HostName, e, options.Value.MaxConcurrentJobs, services, deviceLogger))];
    }

    public IReadOnlyList<DeviceWorker> Workers { get; }

    public DeviceWorker? Find(string workerId) => Workers.FirstOrDefault(w => string.Equals(w.WorkerId, workerId, StringComparison.Ordinal));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        // Jobs a crash left running are not these workers' to take back at start: in a cluster they may be
        // another node's, still running. The lease sweeper takes back those whose lease expired
        // (JobLeaseSweeper), and the cluster those of a process its membership declares dead.
        // Running jobs see the stop through their tokens and put themselves back in the queue.
        await Task.WhenAll(Workers.Select(w => w.RunAsync(stoppingToken)));
    }
}
