using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.SafeTensors;
using Microsoft.Extensions.Options;

namespace FluxWeb.Host.Cli;

/// <summary>
/// <c>fluxweb models …</c>: create the demo package, build packages from official checkpoints,
/// import ONNX exports, list, verify, and pull from the Hugging Face Hub. Progress goes to stderr;
/// results to stdout (one JSON line with <c>--json</c>).
/// </summary>
internal static class ModelsCommands
{
    private static readonly JsonSerializerOptions JsonLine = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    public static Command Create(CliOutput output)
    {
        var models = new Command("models", "Manage model packages (one folder per package under --models). Nothing is downloaded unless you run `models pull`.");
        models.Subcommands.Add(CreateDemo(output));
        models.Subcommands.Add(Build(output));
        models.Subcommands.Add(Import(output));
        models.Subcommands.Add(List(output));
        models.Subcommands.Add(Verify(output));
        models.Subcommands.Add(Pull(output));
        return models;
    }

    private static Option<bool> JsonOption() => new("--json") { Description = "Print the result as one JSON line on stdout." };

    private static Option<string?> LicenceOption(string description)
    {
        var option = new Option<string?>("--licence") { Description = description };
        option.AcceptOnlyFromAmong(ModelLicence.ApacheId, ModelLicence.FluxNonCommercialId);
        return option;
    }

    private static Command CreateDemo(CliOutput output)
    {
        var id = new Option<string>("--id") { Description = "Package id (folder name).", DefaultValueFactory = _ => DemoPackage.DefaultId };
        var licence = LicenceOption("Licence the demo declares; FLUX-Non-Commercial gives tests and demos a non-commercial model.");
        licence.DefaultValueFactory = _ => ModelLicence.ApacheId;
        var seed = new Option<ulong>("--seed") { Description = "Seed of the random weights.", DefaultValueFactory = _ => DemoPackage.DefaultSeed };
        var variant = new Option<string>("--variant") { Description = "distilled (4 steps, no guidance) or base (many steps with classifier-free guidance).", DefaultValueFactory = _ => "distilled" };
        variant.AcceptOnlyFromAmong("distilled", "base");
        var json = JsonOption();
        var command = new Command("create-demo", "Build the tiny demo package (klein's architecture, seeded random weights, labelled \"demo — random weights\" everywhere): every feature works, its images are noise.")
        {
            id, licence, seed, variant, json,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(output, parse, cancellationToken: cancellationToken, body: (catalog, _) =>
        {
            var manifest = DemoPackage.Create(catalog.ModelsDirectory, parse.GetValue(id)!, ModelLicence.Parse(parse.GetValue(licence)!), parse.GetValue(seed), Progress(output),
                parse.GetValue(variant) == "base" ? ModelVariant.Base : ModelVariant.Distilled);
            var summary = PackageSummary.From(manifest, Path.Combine(catalog.ModelsDirectory, manifest.Id));
            if (parse.GetValue(json))
            {
                WriteJson(output, summary);
            }
            else
            {
                output.Out.WriteLine($"Created model package '{manifest.Id}': {manifest.Label}, licence {manifest.Licence!.Id} ({(manifest.AllowsCommercialUse ? "commercial use allowed" : "non-commercial")}), {FormatBytes(summary.Bytes)} in {summary.Folder}.");
            }

            return Task.FromResult(0);
        }));
        return command;
    }

    private sealed record BuildOptions(
        Option<string?> Id,
        Option<string> Precision,
        Option<string?> Variant,
        Option<string?> TextEncoder,
        Option<string?> Vae,
        Option<string?> Tokenizer,
        Option<string?> Licence,
        Option<string?> Name,
        Option<bool> Json)
    {
        public static BuildOptions Create()
        {
            var precision = new Option<string>("--precision") { Description = "What the graphs compute in: bf16 (GPU, default), fp16, or fp32 (CPU, tests).", DefaultValueFactory = _ => "bf16" };
            precision.AcceptOnlyFromAmong("fp32", "bf16", "fp16");
            var variant = new Option<string?>("--variant") { Description = "distilled (4 steps, no guidance) or base (50 steps, CFG). Default: model_index.json's is_distilled, else 'base' when the source's name contains it, else distilled." };
            variant.AcceptOnlyFromAmong("distilled", "base");
            return new BuildOptions(
                new Option<string?>("--id") { Description = "Package id; default: the family, e.g. klein-4b (klein-4b-fp8 for FP8 weights)." },
                precision,
                variant,
                new Option<string?>("--text-encoder") { Description = "Qwen3 text encoder (folder with config.json and weights, or a .safetensors file); required with a single-file checkpoint." },
                new Option<string?>("--vae") { Description = "FLUX.2 VAE weights (file or folder); required with a single-file checkpoint." },
                new Option<string?>("--tokenizer") { Description = "Qwen3 tokenizer.json; required with a single-file checkpoint." },
                LicenceOption("Only for checkpoints that are not an official klein size; official 4B/9B packages take the family's licence."),
                new Option<string?>("--name") { Description = "Display name; default from the family, e.g. \"FLUX.2 [klein] 4B\"." },
                JsonOption());
        }

        public IEnumerable<Option> All => [Id, Precision, Variant, TextEncoder, Vae, Tokenizer, Licence, Name, Json];

        public CheckpointBuildRequest ToRequest(ParseResult parse, string from)
        {
            if (!ComputePrecisions.TryParse(parse.GetValue(Precision)!, out var precision))
            {
                throw new ArgumentException($"--precision {parse.GetValue(Precision)} is not fp32, bf16 or fp16.");
            }

            return new CheckpointBuildRequest
            {
                From = from,
                Id = parse.GetValue(Id),
                Precision = precision,
                Variant = parse.GetValue(Variant) switch { "base" => ModelVariant.Base, "distilled" => ModelVariant.Distilled, _ => null },
                TextEncoder = parse.GetValue(TextEncoder),
                Vae = parse.GetValue(Vae),
                Tokenizer = parse.GetValue(Tokenizer),
                Licence = parse.GetValue(Licence) is { } licence ? ModelLicence.Parse(licence) : null,
                DisplayName = parse.GetValue(Name),
            };
        }
    }

    private static Command Build(CliOutput output)
    {
        var from = new Option<string>("--from")
        {
            Description = "The official checkpoint: a diffusers-format folder (transformer/, text_encoder/, vae/, tokenizer/) or BFL's single file (flux-2-klein-4b.safetensors, …-fp8.safetensors).",
            Required = true,
        };
        var options = BuildOptions.Create();
        var command = new Command("build", "Build a model package from an official FLUX.2 [klein] checkpoint: family, licence and weight precision come from the weights; the weights are hard-linked into the package (copied across file systems).") { from };
        foreach (var option in options.All)
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, cancellationToken) => RunAsync(output, parse, cancellationToken: cancellationToken, body: (catalog, _) =>
        {
            var result = CheckpointPackageBuilder.Build(catalog.ModelsDirectory, options.ToRequest(parse, parse.GetValue(from)!), Progress(output));
            ReportBuilt(output, parse.GetValue(options.Json), "Built", result.Manifest, Path.Combine(catalog.ModelsDirectory, result.Manifest.Id), result.Placed, result.Elapsed);
            return Task.FromResult(0);
        }));
        return command;
    }

    private static Command Import(CliOutput output)
    {
        var folder = new Argument<string>("folder") { Description = "An ONNX export with its weights and a manifest.json (schema v1) that declares the licence and maps each graph's input and output names to their roles." };
        var id = new Option<string?>("--id") { Description = "Package id; default: the manifest's id." };
        var json = JsonOption();
        var command = new Command("import", "Install an existing ONNX export under models/<id>/ after checking its manifest mapping against the graphs (files are hard-linked or copied, then hashed).") { folder, id, json };
        command.SetAction((parse, cancellationToken) => RunAsync(output, parse, cancellationToken: cancellationToken, body: (catalog, _) =>
        {
            var result = ModelPackageImporter.Import(catalog.ModelsDirectory, parse.GetValue(folder)!, parse.GetValue(id), Progress(output));
            ReportBuilt(output, parse.GetValue(json), "Imported", result.Manifest, Path.Combine(catalog.ModelsDirectory, result.Manifest.Id), result.Placed, result.Elapsed);
            return Task.FromResult(0);
        }));
        return command;
    }

    private static Command List(CliOutput output)
    {
        var json = JsonOption();
        var command = new Command("list", "List the installed model packages, and why any of them does not load or cannot run on this server's device.") { json };
        command.SetAction((parse, cancellationToken) => RunAsync(output, parse, cancellationToken: cancellationToken, body: (catalog, _) =>
        {
            var models = catalog.List();
            var summaries = models.Select(m => m.Manifest is not null && m.Error is null
                ? PackageSummary.From(m.Manifest, m.Folder) with { Usable = m.IsUsable, Error = m.DeviceProblem }
                : new PackageSummary { Id = m.Id, Folder = m.Folder, Usable = false, Error = m.Error }).ToList();
            if (parse.GetValue(json))
            {
                WriteJson(output, summaries);
                return Task.FromResult(0);
            }

            if (summaries.Count == 0)
            {
                output.Out.WriteLine($"No model packages in {catalog.ModelsDirectory}. Try `fluxweb models create-demo`, `models build` or `models pull`.");
                return Task.FromResult(0);
            }

            string[] header = ["ID", "NAME", "FAMILY", "VARIANT", "LICENCE", "WEIGHTS/COMPUTE", "SIZE", "STATUS"];
            // A sound package this device cannot run keeps its details; the status says why it is unusable.
            var rows = summaries.Select(s => s.Label is not null
                ? new[] { s.Id, s.Label, s.Family!, s.Variant!, $"{s.Licence} ({(s.CommercialUse == true ? "commercial" : "non-commercial")})", $"{s.Weights}/{s.Compute}", FormatBytes(s.Bytes), s.Usable ? "ok" : s.Error! }
                : [s.Id, "", "", "", "", "", "", $"error: {s.Error}"]).ToList();
            var widths = header.Select((h, i) => Math.Max(h.Length, rows.Max(r => r[i].Length))).ToArray();
            foreach (var row in rows.Prepend(header))
            {
                output.Out.WriteLine(string.Join("  ", row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i]))).TrimEnd());
            }

            return Task.FromResult(0);
        }));
        return command;
    }

    private static Command Verify(CliOutput output)
    {
        var id = new Argument<string>("id") { Description = "The package to check (its folder name under --models)." };
        var json = JsonOption();
        var command = new Command("verify", "Re-hash every file of a package, re-validate its manifest (licence included), and check each graph's inputs, outputs and weight bindings against the manifest and the checkpoint headers.") { id, json };
        command.SetAction((parse, cancellationToken) => RunAsync(output, parse, cancellationToken: cancellationToken, body: (catalog, _) =>
        {
            var packageId = parse.GetValue(id)!;
            var folder = Path.Combine(catalog.ModelsDirectory, packageId);
            if (!ModelPackageValidator.IsValidId(packageId) || !Directory.Exists(folder))
            {
                return Task.FromResult(output.Fail($"no model package '{packageId}' in {catalog.ModelsDirectory} (see `fluxweb models list`)."));
            }

            var report = ModelPackageVerifier.Verify(folder, Progress(output));
            if (parse.GetValue(json))
            {
                WriteJson(output, new
                {
                    report.Id,
                    report.Ok,
                    report.FilesChecked,
                    report.BytesHashed,
                    report.GraphsChecked,
                    report.WeightBindingsChecked,
                    ElapsedSeconds = Math.Round(report.Elapsed.TotalSeconds, 3),
                    Problems = report.Problems.Select(p => new { p.File, p.Field, p.Message }),
                });
            }
            else
            {
                foreach (var problem in report.Problems)
                {
                    output.Out.WriteLine($"FAIL {problem}");
                }

                output.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(report.Ok ? "ok" : "FAILED")}: '{report.Id}': {report.FilesChecked} files ({FormatBytes(report.BytesHashed)}) hashed, {report.GraphsChecked} graphs and {report.WeightBindingsChecked} weight bindings checked, {report.Problems.Count} problem{(report.Problems.Count == 1 ? "" : "s")} ({report.Elapsed.TotalSeconds:0.0} s)."));
            }

            return Task.FromResult(report.Ok ? 0 : output.Fail($"model package '{report.Id}' failed verification: {report.Problems.Count} problem{(report.Problems.Count == 1 ? "" : "s")}."));
        }));
        return command;
    }

    private static Command Pull(CliOutput output)
    {
        var repo = new Argument<string>("repo") { Description = "Hugging Face repo id, e.g. black-forest-labs/FLUX.2-klein-4B." };
        var revision = new Option<string>("--revision") { Description = "Branch, tag or commit.", DefaultValueFactory = _ => "main" };
        var token = new Option<string?>("--token")
        {
            Description = "Hugging Face access token for gated repos (the 9B repos: accept the licence on huggingface.co first). Prefer the HF_TOKEN environment variable: options show up in process lists.",
        };
        var endpoint = new Option<string?>("--endpoint") { Description = "Hub address (configuration key Models:HuggingFaceEndpoint, default https://huggingface.co)." };
        var keep = new Option<bool>("--keep-download") { Description = "Keep the downloaded files in <models>/.downloads after the build." };
        var options = BuildOptions.Create();
        var command = new Command("pull", "Download an official checkpoint from the Hugging Face Hub (only the files a package needs, resumable, SHA-256 checked), then build the package.") { repo, revision, token, endpoint, keep };
        foreach (var option in options.All)
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, cancellationToken) => RunAsync(output, parse, cancellationToken: cancellationToken, body: async (catalog, services) =>
        {
            var settings = services.GetRequiredService<IOptions<ModelDownloadOptions>>().Value;
            var downloadOptions = new ModelDownloadOptions
            {
                HuggingFaceEndpoint = parse.GetValue(endpoint) ?? settings.HuggingFaceEndpoint,
                Retries = settings.Retries,
                RetryDelay = settings.RetryDelay,
                StallTimeout = settings.StallTimeout,
            };
            using var downloader = new ModelDownloader(downloadOptions);
            var request = new PullRequest
            {
                Repo = parse.GetValue(repo)!,
                Revision = parse.GetValue(revision)!,
                Token = parse.GetValue(token) ?? (Environment.GetEnvironmentVariable("HF_TOKEN") is { Length: > 0 } fromEnvironment ? fromEnvironment : null),
                KeepDownload = parse.GetValue(keep),
                Build = options.ToRequest(parse, from: ""),
            };
            var result = await ModelPuller.PullAsync(downloader, catalog.ModelsDirectory, request, DownloadProgressWriter(output), Progress(output), cancellationToken);
            ReportBuilt(output, parse.GetValue(options.Json), $"Pulled {result.Repo.Repo}@{result.Repo.Commit[..Math.Min(12, result.Repo.Commit.Length)]} and built", result.Build.Manifest, Path.Combine(catalog.ModelsDirectory, result.Build.Manifest.Id), result.Build.Placed, result.Elapsed);
            return 0;
        }));
        return command;
    }

    /// <summary>Starts the configuration and inference services (no database) and turns the expected failures into one `error:` line.</summary>
    private static async Task<int> RunAsync(CliOutput output, ParseResult parse, Func<ModelCatalog, IServiceProvider, Task<int>> body, CancellationToken cancellationToken)
    {
        using var host = await CliHost.StartAsync(FluxWebCli.ConfigurationOverrides(parse), cancellationToken, migrate: false);
        try
        {
            return await body(host.Services.GetRequiredService<ModelCatalog>(), host.Services);
        }
        catch (Exception ex) when (ex is ModelPackageException or SafeTensorsException or ModelDownloadException or ArgumentException or NotSupportedException or FormatException or JsonException or InvalidDataException)
        {
            return output.Fail(ex.Message.ReplaceLineEndings(" "));
        }
    }

    private static IProgress<string> Progress(CliOutput output) => new SynchronousProgress<string>(line => output.Error.WriteLine($"  {line}"));

    private static SynchronousProgress<DownloadProgress> DownloadProgressWriter(CliOutput output)
    {
        var lastPrinted = new Dictionary<string, DateTime>(StringComparer.Ordinal);
        return new SynchronousProgress<DownloadProgress>(p =>
        {
            var now = DateTime.UtcNow;
            if (!p.Completed && p.Note is null && lastPrinted.TryGetValue(p.File, out var last) && now - last < TimeSpan.FromSeconds(1))
            {
                return;
            }

            lastPrinted[p.File] = now;
            var size = p.FileTotal is { } total && total > 0
                ? string.Create(CultureInfo.InvariantCulture, $"{FormatBytes(p.FileBytes)} / {FormatBytes(total)} ({100.0 * p.FileBytes / total:0}%)")
                : FormatBytes(p.FileBytes);
            var rate = p.SessionBytes > 0 ? $"  {FormatBytes((long)p.BytesPerSecond)}/s" : "";
            var state = p.Completed ? $"done, {p.Note}" : p.Note ?? "";
            output.Error.WriteLine($"  {p.File}  {size}{rate}{(state.Length > 0 ? "  " + state : "")}");
        });
    }

    private static void ReportBuilt(CliOutput output, bool json, string verb, ModelPackageManifest manifest, string folder, IReadOnlyList<PlacedFile> placed, TimeSpan elapsed)
    {
        var summary = PackageSummary.From(manifest, folder) with
        {
            HardLinkedBytes = placed.Where(p => p.Method == FileLinks.Method.HardLink).Sum(p => p.Bytes),
            CopiedBytes = placed.Where(p => p.Method == FileLinks.Method.Copy).Sum(p => p.Bytes),
            ElapsedSeconds = Math.Round(elapsed.TotalSeconds, 3),
        };
        if (json)
        {
            WriteJson(output, summary);
            return;
        }

        output.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{verb} model package '{manifest.Id}': {manifest.Label} ({manifest.Family}, {manifest.Variant.ToString().ToLowerInvariant()}), licence {manifest.Licence!.Id} ({(manifest.AllowsCommercialUse ? "commercial use allowed" : "non-commercial")}), weights {manifest.Precision.Weights}, compute {manifest.Precision.Compute}; {FormatBytes(summary.HardLinkedBytes ?? 0)} hard-linked, {FormatBytes(summary.CopiedBytes ?? 0)} copied; in {folder} ({elapsed.TotalSeconds:0.0} s)."));
    }

    private static void WriteJson<T>(CliOutput output, T value) => output.Out.WriteLine(JsonSerializer.Serialize(value, JsonLine));

    internal static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):0.00} GiB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):0.0} MiB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        _ => $"{bytes} B",
    };

    /// <summary>One package as `list --json` and the other commands' `--json` print it.</summary>
    internal sealed record PackageSummary
    {
        public required string Id { get; init; }

        public required string Folder { get; init; }

        public bool Usable { get; init; } = true;

        public string? Error { get; init; }

        public string? DisplayName { get; init; }

        public string? Label { get; init; }

        public string? Family { get; init; }

        public string? Variant { get; init; }

        public bool Demo { get; init; }

        public string? Licence { get; init; }

        public bool? CommercialUse { get; init; }

        public string? Weights { get; init; }

        public string? Compute { get; init; }

        public int Files { get; init; }

        public long Bytes { get; init; }

        public long? HardLinkedBytes { get; init; }

        public long? CopiedBytes { get; init; }

        public double? ElapsedSeconds { get; init; }

        public static PackageSummary From(ModelPackageManifest manifest, string folder) => new()
        {
            Id = manifest.Id,
            Folder = folder,
            DisplayName = manifest.DisplayName,
            Label = manifest.Label,
            Family = manifest.Family,
            Variant = manifest.Variant.ToString().ToLowerInvariant(),
            Demo = manifest.Demo,
            Licence = manifest.Licence?.Id,
            CommercialUse = manifest.Licence?.CommercialUse,
            Weights = manifest.Precision.Weights,
            Compute = manifest.Precision.Compute,
            Files = manifest.Files.Count,
            Bytes = manifest.Files.Sum(f => f.Bytes),
        };
    }

    /// <summary><see cref="Progress{T}"/> posts to the thread pool, so lines could arrive after the result; this reports in order, on the caller's thread.</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
