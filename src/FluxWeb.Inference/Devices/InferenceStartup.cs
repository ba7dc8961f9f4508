using Microsoft.Extensions.Hosting;

namespace FluxWeb.Inference.Devices;

/// <summary>
/// Probes the inference devices when the host starts. When a device must work (<c>Inference:Device = Cuda</c>,
/// or <c>cuda:N</c> listed in <c>Inference:Devices</c>) every device is probed before the host finishes
/// starting, so a server that cannot use its GPUs refuses to start and says why, instead of queueing jobs
/// that all fail. With Auto (or <c>all</c>) it runs in the background: the app serves at once and the answer
/// is ready (and logged) before the first page asks for it. With the CPU there is nothing to find out: the
/// CPU's precision check runs when first needed.
/// </summary>
public sealed class InferenceStartup(DevicePlan plan) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (plan.ProbesBeforeStart)
        {
            _ = plan.Devices;
            return Task.CompletedTask;
        }

        if (!plan.IsCpuOnly)
        {
            _ = Task.Run(() => plan.Devices, CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
