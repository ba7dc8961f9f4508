using FluxWeb.Domain.Time;
using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace FluxWeb.Inference.Tests.Pipeline;

/// <summary>The background warm start: which package it picks, and that it really loads it (here on the CPU, with a named package).</summary>
public sealed class WarmStartTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    [Fact]
    public async Task A_named_package_is_loaded_in_the_background_and_the_next_job_finds_it_resident()
    {
        var options = new InferenceOptions { Device = DevicePreference.Cpu, MinSide = 64, CpuThreads = 1, WarmStart = "demo" };
        using var engine = fixture.CreateEngine(options);
        var warm = Create(engine, options, fixture.ModelsDirectory);

        await warm.StartAsync(CancellationToken.None);
        await warm.Completion.WaitAsync(TimeSpan.FromMinutes(2));

        Assert.Equal([ModelComponent.TextEncoder, ModelComponent.VaeDecoder, ModelComponent.Transformer], engine.Resident.Where(r => r.PackageId == "demo").Select(r => r.Component));
        (await engine.GenerateAsync(new GenerationRequest { ModelId = "demo", Prompt = "warm", Width = 64, Height = 64, Seed = 1 }, null, CancellationToken.None)).Image.Dispose();
        await warm.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Every_device_engine_loads_the_package_so_no_worker_waits_for_it_on_its_first_job()
    {
        var options = new InferenceOptions { Device = DevicePreference.Cpu, MinSide = 64, CpuThreads = 1, WarmStart = "demo" };
        using var first = fixture.CreateEngine(options);
        using var second = fixture.CreateEngine(options);
        var warm = Create(new FixedEngines(new DeviceEngine("cpu", first), new DeviceEngine("cpu:1", second)), options, fixture.ModelsDirectory);

        await warm.StartAsync(CancellationToken.None);
        await warm.Completion.WaitAsync(TimeSpan.FromMinutes(2));

        Assert.All([first, second], engine => Assert.Equal(
            [ModelComponent.TextEncoder, ModelComponent.VaeDecoder, ModelComponent.Transformer],
            engine.Resident.Where(r => r.PackageId == "demo").Select(r => r.Component)));
        await warm.StopAsync(CancellationToken.None);
    }

    [Theory]
    [InlineData("None", null)]
    [InlineData("", null)]
    [InlineData("MostUsed", null)] // on the CPU only a named package warms
    [InlineData("demo-base", "demo-base")]
    [InlineData("not-installed", null)]
    public void On_the_cpu_only_a_named_usable_package_is_chosen(string setting, string? expected)
    {
        var options = new InferenceOptions { Device = DevicePreference.Cpu, WarmStart = setting };
        using var engine = fixture.CreateEngine(options);

        Assert.Equal(expected, Create(engine, options, fixture.ModelsDirectory).Choose()?.Id);
    }

    [Fact]
    public void Usage_counts_images_per_package_and_names_the_most_used()
    {
        using var models = new TempDirectory();
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-12-04T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var usage = new ModelUsage(Options.Create(new ModelStoreOptions { ModelsDirectory = models.Path }), new AppClock(clock));
        InstalledModel Usable(string id) => new(id, Path.Combine(models.Path, id), new ModelPackageManifest { Id = id }, null);

        usage.Record("a");
        usage.Record("b");
        clock.Advance(TimeSpan.FromMinutes(1));
        usage.Record("b");
        usage.Record("c");

        Assert.Equal(2, usage.Read()["b"].Images);
        Assert.Equal("b", usage.MostUsed([Usable("a"), Usable("b"), Usable("c")])!.Id);
        Assert.Equal("c", usage.MostUsed([Usable("a"), Usable("c")])!.Id); // a tie goes to the most recent
        Assert.Equal("a", usage.MostUsed([Usable("a"), Usable("b") with { DeviceProblem = "bf16 on a CPU" }])!.Id);
        Assert.True(File.Exists(Path.Combine(models.Path, ModelUsage.FileName)));
        Assert.Empty(new ModelCatalog(Options.Create(new ModelStoreOptions { ModelsDirectory = models.Path })).List());
    }

    private static WarmStart Create(InferenceEngine engine, InferenceOptions options, string models) =>
        Create(new FixedEngines(new DeviceEngine("cpu", engine)), options, models);

    private static WarmStart Create(IDeviceEngines engines, InferenceOptions options, string models)
    {
        var wrapped = Options.Create(options);
        var store = Options.Create(new ModelStoreOptions { ModelsDirectory = models });
        return new WarmStart(
            new ExecutionDeviceProbe(wrapped, NullLogger<ExecutionDeviceProbe>.Instance),
            new ModelCatalog(store),
            new ModelUsage(store, AppClock.Real),
            engines,
            wrapped,
            NullLogger<WarmStart>.Instance);
    }
}

/// <summary>Engines a test made itself, as the devices of a process.</summary>
internal sealed class FixedEngines(params DeviceEngine[] engines) : IDeviceEngines
{
    public IReadOnlyList<DeviceEngine> Engines => engines;
}
