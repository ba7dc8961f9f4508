using FluxWeb.Domain.Time;
using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FluxWeb.Inference.Tests.Packages;

/// <summary>
/// A real bf16 package (built from the tiny checkpoint) on this CPU-only machine: the catalog says it
/// cannot run here and why, and the engine refuses its jobs with that reason before loading anything,
/// instead of the misleading "could not be loaded … run models verify".
/// </summary>
public sealed class DeviceUsabilityTests
{
    [Fact]
    public async Task A_bf16_package_is_unusable_on_the_cpu_with_the_reason_but_still_verifies()
    {
        using var temp = new TempDirectory();
        var source = temp.Combine("FLUX.2-klein-tiny");
        TinyCheckpoint.WriteDiffusers(source);
        var models = temp.Combine("models");
        CheckpointPackageBuilder.Build(models, new CheckpointBuildRequest { From = source, Id = "tiny-bf16", Precision = ComputePrecision.BFloat16, Licence = ModelLicence.Apache2() });
        var options = Options.Create(new InferenceOptions { Device = DevicePreference.Cpu, MinSide = 64 });
        var probe = new ExecutionDeviceProbe(options, NullLogger<ExecutionDeviceProbe>.Instance);
        var store = Options.Create(new ModelStoreOptions { ModelsDirectory = models });

        var model = new ModelCatalog(store, probe).Find("tiny-bf16")!;
        var withoutProbe = new ModelCatalog(store).Find("tiny-bf16")!;

        Assert.False(model.IsUsable);
        Assert.Null(model.Error);
        Assert.Equal(
            "Unusable on this server: inference runs on the CPU (CPU selected in configuration (Inference:Device = Cpu)), the package computes in bf16, and ONNX Runtime's CPU provider has no bf16 FusedMatMul kernel.",
            model.DeviceProblem);
        Assert.True(withoutProbe.IsUsable);
        Assert.True(ModelPackageVerifier.Verify(model.Folder).Ok);

        using var sessions = new ResidentSessions(new SessionFactory(probe, options), options, AppClock.Real, NullLogger<ResidentSessions>.Instance);
        using var engine = new InferenceEngine(new ModelCatalog(store, probe), sessions, options, NullLogger<InferenceEngine>.Instance);
        var error = await Assert.ThrowsAsync<GenerationRequestException>(() => engine.GenerateAsync(new GenerationRequest { ModelId = "tiny-bf16", Prompt = "x", Width = 64, Height = 64 }, null, CancellationToken.None));
        Assert.Contains("has no bf16 FusedMatMul kernel", error.Message, StringComparison.Ordinal);
        Assert.Empty(engine.Resident);
    }

    [Fact]
    public void Float32_packages_never_start_the_probe()
    {
        using var temp = new TempDirectory();
        DemoPackage.Create(temp.Path, "demo");
        var probe = new ExecutionDeviceProbe(Options.Create(new InferenceOptions()), NullLogger<ExecutionDeviceProbe>.Instance);

        var model = new ModelCatalog(Options.Create(new ModelStoreOptions { ModelsDirectory = temp.Path }), probe).Find("demo")!;

        Assert.True(model.IsUsable);
        Assert.False(probe.HasProbed);
    }
}
