using FluxWeb.Inference.Pipeline;

namespace FluxWeb.Inference.Devices;

/// <summary>One device a queue worker runs jobs on, with the engine that owns that device's sessions.</summary>
/// <param name="DeviceId">Unique within the process: <c>cpu</c>, <c>cpu:1</c>, <c>cuda:0</c> …</param>
public sealed record DeviceEngine(string DeviceId, IImageGenerator Generator);

/// <summary>The devices this process serves, one queue worker each (issue 18: <c>Inference:Devices</c>, <c>Inference:CpuWorkers</c>).</summary>
public interface IDeviceEngines
{
    IReadOnlyList<DeviceEngine> Engines { get; }
}

/// <summary>A process with one device: the inference singleton on the device the probe chose.</summary>
internal sealed class SingleDeviceEngines(IImageGenerator generator, ExecutionDeviceProbe probe) : IDeviceEngines
{
    private readonly Lazy<IReadOnlyList<DeviceEngine>> engines = new(() =>
        [new DeviceEngine(probe.Device.IsCuda ? $"cuda:{probe.Device.CudaDeviceId}" : "cpu", generator)]);

    public IReadOnlyList<DeviceEngine> Engines => engines.Value;
}
