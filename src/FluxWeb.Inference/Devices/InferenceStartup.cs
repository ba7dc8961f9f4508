using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace FluxWeb.Inference.Devices;

/// <summary>
/// Probes the inference device when the host starts. With <c>Inference:Device = Cuda</c> the probe
/// runs before the host finishes starting, so a server that cannot use its GPU refuses to start and
/// says why, instead of queueing jobs that all fail. With Auto it runs in the background: the app
/// serves at once and the answer is ready (and logged) before the first page asks for it. With Cpu
/// there is nothing to find out: the CPU's precision check runs when first needed.
/// </summary>
public sealed class InferenceStartup(ExecutionDeviceProbe probe, IOptions<InferenceOptions> options) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.Device == DevicePreference.Cuda)
        {
            _ = probe.Device;
            return Task.CompletedTask;
        }

        if (options.Value.Device == DevicePreference.Auto)
        {
            _ = Task.Run(() => probe.Device, CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
