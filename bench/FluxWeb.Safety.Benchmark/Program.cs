using System.Diagnostics;
using FluxWeb.Application.Safety;
using FluxWeb.Domain.Time;
using FluxWeb.Inference;
using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Provenance;
using FluxWeb.Provenance.Filters;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

// The safety check's price: CPU time of the nsfwjs classifier per output image (preprocessing and the
// ONNX run, as the output step does it) beside the time the demo package takes to generate that image.
// Usage: dotnet run -c Release --project bench/FluxWeb.Safety.Benchmark -- nsfwjs-4.4.0.tgz [sizes…]
// (the tarball from `npm pack nsfwjs@4.4.0`, or tools/node_modules/.fluxweb-tests/ after a test run).
if (args.Length == 0 || !File.Exists(args[0]))
{
    Console.Error.WriteLine("usage: FluxWeb.Safety.Benchmark nsfwjs-4.4.0.tgz [sizes…]   (npm pack nsfwjs@4.4.0 writes the tarball)");
    return 2;
}

var sizes = args.Length > 1 ? args.Skip(1).Select(int.Parse).ToArray() : [256, 512, 1024];
const int Repeats = 10;
var folder = Path.Combine(Path.GetTempPath(), $"fluxweb-safety-bench-{Guid.NewGuid():N}");
try
{
    var models = Path.Combine(folder, "models");
    var installer = new ImageClassifierInstaller(Options.Create(new ContentFilterOptions()), Options.Create(new ProvenanceStorageOptions { ModelsDirectory = models }), AppClock.Real, NullLogger<ImageClassifierInstaller>.Instance);
    var installed = await installer.InstallFromFileAsync(args[0]);
    using var classifier = new PackagedImageClassifier(installed.Folder);
    DemoPackage.Create(models, "demo");
    var options = Options.Create(new InferenceOptions { Device = DevicePreference.Cpu, MinSide = 64 });
    var catalog = new ModelCatalog(Options.Create(new ModelStoreOptions { ModelsDirectory = models }));
    var devices = new ExecutionDeviceProbe(options, NullLogger<ExecutionDeviceProbe>.Instance);
    using var sessions = new ResidentSessions(new SessionFactory(devices, options), options, AppClock.Real, NullLogger<ResidentSessions>.Instance);
    using var engine = new InferenceEngine(catalog, sessions, options, NullLogger<InferenceEngine>.Instance);
    (await engine.GenerateAsync(new GenerationRequest { ModelId = "demo", Prompt = "benchmark", Width = 256, Height = 256 }, null, CancellationToken.None)).Image.Dispose();
    using (var warm = new Image<Rgba32>(256, 256))
    {
        classifier.Classify(warm);
    }

    Console.WriteLine($"Image safety check — {installed.Manifest.DisplayName} on CPU ({Environment.ProcessorCount} cores) after the demo package (4 steps, prompt cached), {Repeats} images per size; install took {installed.Elapsed.TotalMilliseconds:0} ms");
    Console.WriteLine("size       generate ms   preprocess ms   classify ms (incl. preprocess)   classify / generate");
    foreach (var side in sizes)
    {
        double generate = 0, preprocess = 0, classify = 0;
        for (var i = 0; i < Repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            var result = await engine.GenerateAsync(new GenerationRequest { ModelId = "demo", Prompt = "benchmark", Width = side, Height = side, Seed = (ulong)i }, null, CancellationToken.None);
            generate += clock.Elapsed.TotalMilliseconds;
            using var image = result.Image.CloneAs<Rgba32>();
            result.Image.Dispose();
            clock.Restart();
            PackagedImageClassifier.Preprocess(image, installed.Manifest.Input.Size);
            preprocess += clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            classifier.Classify(image);
            classify += clock.Elapsed.TotalMilliseconds;
        }

        Console.WriteLine($"{side,4}×{side,-4}  {generate / Repeats,11:0.0}   {preprocess / Repeats,13:0.0}   {classify / Repeats,30:0.0}   {classify / generate,19:P1}");
    }

    return 0;
}
finally
{
    if (Directory.Exists(folder))
    {
        Directory.Delete(folder, recursive: true);
    }
}
