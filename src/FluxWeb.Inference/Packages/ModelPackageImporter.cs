using System.Diagnostics;
using System.Text.Json;
using FluxWeb.Inference.SafeTensors;

namespace FluxWeb.Inference.Packages;

public sealed record ImportResult(ModelPackageManifest Manifest, IReadOnlyList<PlacedFile> Placed, TimeSpan Elapsed);

/// <summary>
/// Installs an existing ONNX export: a folder with the graphs, their weights and a manifest (schema
/// v1) that maps each graph's own input and output names to the roles the pipeline binds. Before
/// anything is copied, the manifest must declare a licence and every named input and output must
/// exist in its graph with the right type and rank (read from the ONNX header, weights untouched);
/// then the files are hard-linked (or copied) into <c>models/&lt;id&gt;/</c> and hashed afresh.
/// </summary>
public static class ModelPackageImporter
{
    public static ImportResult Import(string modelsDirectory, string sourceFolder, string? id = null, IProgress<string>? progress = null)
    {
        var stopwatch = Stopwatch.StartNew();
        if (!Directory.Exists(sourceFolder))
        {
            throw new ArgumentException($"{sourceFolder}: no such folder.");
        }

        var source = Path.GetFullPath(sourceFolder).TrimEnd(Path.DirectorySeparatorChar);
        var shown = $"{Path.GetFileName(source)}/{ModelPackageManifest.FileName}";
        var manifestPath = Path.Combine(source, ModelPackageManifest.FileName);
        if (!File.Exists(manifestPath))
        {
            throw new ModelPackageException(shown, "$", "does not exist: an import needs a manifest that names the licence and maps the graphs' inputs and outputs to their roles.");
        }

        ModelPackageManifest manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ModelPackageManifest>(File.ReadAllText(manifestPath), ModelPackageManifest.JsonOptions)
                ?? throw new ModelPackageException(shown, "$", "is empty.");
        }
        catch (JsonException ex)
        {
            throw new ModelPackageException(shown, ex.Path ?? "$", $"is not valid: {ex.Message}");
        }

        if (id is not null)
        {
            manifest.Id = id;
        }

        // The hashes are computed afresh from what is installed; whatever the export listed does not count.
        manifest.Files = [];
        ModelPackageValidator.Validate(manifest, shown, source);

        progress?.Report("checking the graphs' inputs and outputs against the manifest");
        var problems = new List<PackageProblem>();
        var signatures = PackageGraphChecks.ReadSignatures(manifest, source, problems);
        problems.AddRange(PackageGraphChecks.Check(manifest, signatures, shown));
        var headers = new Dictionary<string, SafeTensorsFile?>(StringComparer.Ordinal);
        foreach (var (name, signature) in signatures)
        {
            var graphFile = manifest.Components.All().First(c => c.Name == name).Component!.File;
            var weightProblems = new List<PackageProblem>();
            PackageWeightChecks.Check(source, graphFile, signature, weightProblems, headers);
            problems.AddRange(weightProblems.Select(p => p with { Field = p.Field ?? $"components.{name}.file" }));
        }

        if (problems.Count > 0)
        {
            var first = problems[0];
            var more = problems.Count > 1 ? $" ({problems.Count - 1} more problem{(problems.Count > 2 ? "s" : "")})" : "";
            throw new ModelPackageException(first.File, first.Field ?? "$", first.Message + more);
        }

        var placed = new List<PlacedFile>();
        manifest.Build = new BuildInfo
        {
            Tool = $"{DemoPackage.BuildTool} import",
            CreatedUtc = DateTimeOffset.UtcNow,
            Source = manifest.Build?.Source ?? Path.GetFileName(source),
        };
        var sealedManifest = PackageStaging.Build(modelsDirectory, manifest.Id, folder =>
        {
            foreach (var file in FilesToImport(source))
            {
                var relative = Path.GetRelativePath(source, file).Replace('\\', '/');
                var method = FileLinks.HardLinkOrCopy(file, Path.Combine(folder, relative));
                var bytes = new FileInfo(file).Length;
                progress?.Report($"{(method == FileLinks.Method.HardLink ? "linked" : "copied")} {relative}");
                placed.Add(new PlacedFile(relative, method, bytes));
            }

            return manifest;
        }, progress);
        return new ImportResult(sealedManifest, placed, stopwatch.Elapsed);
    }

    /// <summary>Everything in the export except its manifest (rewritten) and hidden files such as .gitattributes.</summary>
    private static IEnumerable<string> FilesToImport(string source) =>
        Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories)
            .Where(f =>
            {
                var relative = Path.GetRelativePath(source, f);
                return relative != ModelPackageManifest.FileName && !relative.Split(Path.DirectorySeparatorChar).Any(part => part.StartsWith('.'));
            })
            .Order(StringComparer.Ordinal);
}
