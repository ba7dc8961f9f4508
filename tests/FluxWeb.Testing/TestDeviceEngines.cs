using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Pipeline;

namespace FluxWeb.Testing;

/// <summary>Several devices without a GPU: one fake engine each, so tests see several queue workers in one process.</summary>
public sealed class TestDeviceEngines(params IImageGenerator[] generators) : IDeviceEngines
{
    public IReadOnlyList<DeviceEngine> Engines { get; } = [.. generators.Select((g, i) => new DeviceEngine($"fake:{i}", g))];
}
