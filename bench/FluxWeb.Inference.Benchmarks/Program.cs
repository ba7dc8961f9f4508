using System.Diagnostics;
using FluxWeb.Domain.Time;
using FluxWeb.Inference;
using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

// Pipeline overhead benchmark: time the engine spends outside InferenceSession.Run, per step and
// per image, as a ratio to the time inside Run, and managed allocations per step. Uses the demo
// package on the CPU, where model time is tiny, so the ratio is the worst case; with a real model
// the same absolute overhead is a far smaller fraction.
var sizes = args.Length > 0 ? args.Select(int.Parse).ToArray() : [256, 512, 1024];
var repeats = 5;
var models = Path.Combine(Path.GetTempPath(), $"fluxweb-bench-{Guid.NewGuid():N}");
Directory.CreateDirectory(models);
try
{
    DemoPackage.Create(models, "demo");
    var options = Options.Create(new InferenceOptions { Device = DevicePreference.Cpu, MinSide = 64, CpuThreads = int.TryParse(Environment.GetEnvironmentVariable("FLUXWEB_BENCH_THREADS"), out var threads) ? threads : 0 });
    var catalog = new ModelCatalog(Options.Create(new ModelStoreOptions { ModelsDirectory = models }));
    var devices = new ExecutionDeviceProbe(options, NullLogger<ExecutionDeviceProbe>.Instance);
    using var sessions = new ResidentSessions(new SessionFactory(devices, options), options, AppClock.Real, NullLogger<ResidentSessions>.Instance);
    using var engine = new InferenceEngine(catalog, sessions, options, NullLogger<InferenceEngine>.Instance);

    // Warm-up: sessions loaded, prompt embedding cached, JIT done.
    (await engine.GenerateAsync(new GenerationRequest { ModelId = "demo", Prompt = "benchmark", Width = 256, Height = 256 }, null, CancellationToken.None)).Image.Dispose();

    Console.WriteLine($"FluxWeb pipeline overhead — demo package on CPU ({Environment.ProcessorCount} cores), {repeats} images per size, 4 steps, prompt cached");
    Console.WriteLine("size       image ms   in Run ms   outside ms   outside/in   per step outside ms   alloc/step MB   alloc/image MB");
    foreach (var side in sizes)
    {
        var request = new GenerationRequest { ModelId = "demo", Prompt = "benchmark", Width = side, Height = side };
        double total = 0, inside = 0;
        long allocated = 0;
        for (var i = 0; i < repeats; i++)
        {
            var before = GC.GetTotalAllocatedBytes(precise: true);
            var clock = Stopwatch.StartNew();
            var result = await engine.GenerateAsync(request with { Seed = (ulong)i }, null, CancellationToken.None);
            clock.Stop();
            allocated += GC.GetTotalAllocatedBytes(precise: true) - before;
            total += clock.Elapsed.TotalMilliseconds;
            inside += result.ModelTime.TotalMilliseconds;
            result.Image.Dispose();
        }

        var perImage = total / repeats;
        var inRun = inside / repeats;
        var outside = perImage - inRun;
        Console.WriteLine($"{side,4}×{side,-4} {perImage,10:F1} {inRun,11:F1} {outside,12:F1} {outside / inRun,12:P1} {outside / 4,21:F2} {allocated / repeats / 4 / 1e6,15:F2} {allocated / repeats / 1e6,16:F2}");
    }

    Console.WriteLine();
    Console.WriteLine("Outside Run: token packing, noise, Euler steps and previews (C#), PNG-free image conversion, progress.");
    Console.WriteLine("Allocations per step are dominated by the velocity copy and the preview's clean-image estimate (both latents-sized).");
}
finally
{
    Directory.Delete(models, recursive: true);
}
