using FluxWeb.Domain.Time;
using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Packages;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FluxWeb.Inference.Tests.Pipeline;

/// <summary>A demo package (Apache-2.0 and a non-commercial twin) and an engine over them, shared by the engine tests.</summary>
public sealed class EngineFixture : IDisposable
{
    private readonly TempDirectory models = new();

    public EngineFixture()
    {
        DemoPackage.Create(models.Path, "demo");
        DemoPackage.Create(models.Path, "demo-base", variant: ModelVariant.Base);
        Options = new InferenceOptions { Device = DevicePreference.Cpu, MinSide = 64, CpuThreads = 1 };
        Engine = CreateEngine(Options);
    }

    public string ModelsDirectory => models.Path;

    public InferenceOptions Options { get; }

    public InferenceEngine Engine { get; }

    public InferenceEngine CreateEngine(InferenceOptions options, string? modelsDirectory = null)
    {
        var optionsWrapper = Microsoft.Extensions.Options.Options.Create(options);
        var catalog = new ModelCatalog(Microsoft.Extensions.Options.Options.Create(new ModelStoreOptions { ModelsDirectory = modelsDirectory ?? models.Path }));
        var devices = new ExecutionDeviceProbe(optionsWrapper, NullLogger<ExecutionDeviceProbe>.Instance);
        var sessions = new ResidentSessions(new SessionFactory(devices, optionsWrapper), optionsWrapper, AppClock.Real, NullLogger<ResidentSessions>.Instance);
        return new InferenceEngine(catalog, sessions, optionsWrapper, NullLogger<InferenceEngine>.Instance);
    }

    public void Dispose()
    {
        Engine.Dispose();
        models.Dispose();
    }
}
