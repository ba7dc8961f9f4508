using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Pipeline;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Inference.Tests.Pipeline;

/// <summary>
/// <c>Inference:CpuWorkers = 2</c> on the demo package, composed as a process composes it: two engines, each
/// with its own sessions, that really run at the same time and make exactly what one engine makes.
/// </summary>
public sealed class CpuWorkersTests(EngineFixture fixture) : IClassFixture<EngineFixture>
{
    [Fact]
    public async Task Two_cpu_workers_generate_at_the_same_time_each_byte_identical_to_a_single_engine()
    {
        using var provider = Compose(fixture.ModelsDirectory, cpuWorkers: 2);
        var engines = provider.GetRequiredService<IDeviceEngines>().Engines;

        Assert.Equal(["cpu", "cpu:1"], engines.Select(e => e.DeviceId));
        var first = Assert.IsType<InferenceEngine>(engines[0].Generator);
        var second = Assert.IsType<InferenceEngine>(engines[1].Generator);
        Assert.Same(provider.GetRequiredService<InferenceEngine>(), first);
        Assert.NotSame(first.Sessions, second.Sessions);
        Assert.NotSame(first.Sessions.Factory, second.Sessions.Factory);
        Assert.NotSame(first.Sessions.Budget, second.Sessions.Budget);

        // Each run waits, inside its engine's turn, until the other run has started too: were the two engines
        // one at a time (one gate, one worker), the first would wait alone and the rendezvous would time out.
        using var together = new Barrier(2);
        var met = new bool[2];
        var request = new GenerationRequest { ModelId = "demo", Prompt = "two workers", Width = 64, Height = 64, Seed = 1234 };
        var runs = engines.Select((engine, i) => engine.Generator.GenerateAsync(request, new Rendezvous(() => met[i] = together.SignalAndWait(TimeSpan.FromSeconds(60))), CancellationToken.None)).ToArray();
        var results = await Task.WhenAll(runs).WaitAsync(TimeSpan.FromMinutes(3));

        Assert.Equal([true, true], met);
        using var single = (await fixture.Engine.GenerateAsync(request, null, CancellationToken.None)).Image;
        foreach (var result in results)
        {
            using var image = result.Image;
            Assert.Equal(Pixels(single), Pixels(image));
        }

        // Each engine loaded the package into its own sessions.
        Assert.Contains(first.Resident, r => r.PackageId == "demo" && r.Component == ModelComponent.Transformer);
        Assert.Contains(second.Resident, r => r.PackageId == "demo" && r.Component == ModelComponent.Transformer);
    }

    /// <summary>Calls <paramref name="meet"/> at the first progress a run reports (on the run's thread, inside the engine's turn).</summary>
    private sealed class Rendezvous(Action meet) : IProgress<GenerationProgress>
    {
        private int reported;

        public void Report(GenerationProgress value)
        {
            if (Interlocked.Exchange(ref reported, 1) == 0)
            {
                meet();
            }
        }
    }

    private static byte[] Pixels(Image<Rgb24> image)
    {
        var bytes = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(bytes);
        return bytes;
    }

    private static ServiceProvider Compose(string models, int cpuWorkers)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["FluxWeb:ModelsDirectory"] = models,
            ["Inference:Device"] = "Cpu",
            ["Inference:MinSide"] = "64",
            ["Inference:CpuWorkers"] = cpuWorkers.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }).Build());
        services.AddLogging();
        services.AddInference();
        return services.BuildServiceProvider();
    }
}
