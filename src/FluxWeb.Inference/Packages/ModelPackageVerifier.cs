using System.Diagnostics;
using System.Text.Json;
using FluxWeb.Inference.SafeTensors;

namespace FluxWeb.Inference.Packages;

/// <summary>The outcome of <see cref="ModelPackageVerifier.Verify"/>: every problem found, not just the first.</summary>
public sealed record PackageVerification(
    string Id,
    string Folder,
    int FilesChecked,
    long BytesHashed,
    int GraphsChecked,
    int WeightBindingsChecked,
    IReadOnlyList<PackageProblem> Problems,
    TimeSpan Elapsed)
{
    public bool Ok => Problems.Count == 0;
}

/// <summary>
/// Checks an installed package end to end: every listed file against its size and SHA-256, files
/// nobody listed, the manifest's rules (licence included), each graph's inputs and outputs against
/// the manifest's roles, and every external weight an ONNX graph reads against the checkpoint
/// header it points into. Reports all problems, each naming its file.
/// </summary>
public static class ModelPackageVerifier
{
    public static PackageVerification Verify(string folder, IProgress<string>? progress = null)
    {
        var stopwatch = Stopwatch.StartNew();
        var id = Path.GetFileName(Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar));
        var manifestFile = $"{id}/{ModelPackageManifest.FileName}";
        var manifestPath = Path.Combine(folder, ModelPackageManifest.FileName);
        var problems = new List<PackageProblem>();

        ModelPackageManifest? manifest = null;
        if (!File.Exists(manifestPath))
        {
            problems.Add(new PackageProblem(manifestFile, null, "does not exist: this folder is not a model package."));
        }
        else
        {
            try
            {
                manifest = JsonSerializer.Deserialize<ModelPackageManifest>(File.ReadAllText(manifestPath), ModelPackageManifest.JsonOptions);
                if (manifest is null)
                {
                    problems.Add(new PackageProblem(manifestFile, "$", "is empty."));
                }
            }
            catch (JsonException ex)
            {
                problems.Add(new PackageProblem(manifestFile, ex.Path ?? "$", $"is not valid: {ex.Message}"));
            }
        }

        if (manifest is null)
        {
            return new PackageVerification(id, folder, 0, 0, 0, 0, problems, stopwatch.Elapsed);
        }

        var (filesChecked, bytesHashed) = CheckFiles(folder, manifest, manifestFile, problems, progress);

        try
        {
            ModelPackageValidator.Validate(manifest, manifestFile, folder);
        }
        catch (ModelPackageException ex)
        {
            // Size mismatches were already reported file by file above.
            if (!ex.Field.StartsWith("files[", StringComparison.Ordinal))
            {
                problems.Add(new PackageProblem(ex.File, ex.Field, ex.Problem));
            }
        }

        if (manifest.Id != id)
        {
            problems.Add(new PackageProblem(manifestFile, "id", $"is '{manifest.Id}' but the folder is '{id}'."));
        }

        progress?.Report("checking graphs against the manifest");
        var signatures = PackageGraphChecks.ReadSignatures(manifest, folder, problems);
        problems.AddRange(PackageGraphChecks.Check(manifest, signatures, manifestFile));

        progress?.Report("checking external weights against their checkpoint headers");
        var headers = new Dictionary<string, SafeTensorsFile?>(StringComparer.Ordinal);
        var bindings = 0;
        foreach (var (name, signature) in signatures)
        {
            var graphFile = manifest.Components.All().First(c => c.Name == name).Component!.File;
            bindings += PackageWeightChecks.Check(folder, graphFile, signature, problems, headers).TensorsChecked;
        }

        return new PackageVerification(id, folder, filesChecked, bytesHashed, signatures.Count, bindings, problems, stopwatch.Elapsed);
    }

    private static (int Files, long Bytes) CheckFiles(string folder, ModelPackageManifest manifest, string manifestFile, List<PackageProblem> problems, IProgress<string>? progress)
    {
        var listed = new HashSet<string>(StringComparer.Ordinal);
        var files = 0;
        long bytes = 0;
        for (var i = 0; i < manifest.Files.Count; i++)
        {
            var entry = manifest.Files[i];
            listed.Add(entry.Path);
            if (string.IsNullOrWhiteSpace(entry.Path) || Path.IsPathRooted(entry.Path) || entry.Path.Split('/', '\\').Contains(".."))
            {
                problems.Add(new PackageProblem(manifestFile, $"files[{i}].path", $"'{entry.Path}' must be a path inside the package folder."));
                continue;
            }

            var path = Path.Combine(folder, entry.Path);
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                problems.Add(new PackageProblem(entry.Path, $"files[{i}]", "is listed in the manifest but missing."));
                continue;
            }

            files++;
            if (info.Length != entry.Bytes)
            {
                problems.Add(new PackageProblem(entry.Path, $"files[{i}].bytes", $"has {info.Length} bytes but the manifest says {entry.Bytes}: the file was truncated or replaced."));
                continue;
            }

            progress?.Report($"hashing {entry.Path}");
            var actual = ModelPackageWriter.HashFile(path);
            bytes += info.Length;
            if (!string.Equals(actual, entry.Sha256, StringComparison.Ordinal))
            {
                problems.Add(new PackageProblem(entry.Path, $"files[{i}].sha256", $"has SHA-256 {actual} but the manifest says {entry.Sha256}: the file was changed."));
            }
        }

        foreach (var path in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(folder, path).Replace('\\', '/');
            if (relative != ModelPackageManifest.FileName && !listed.Contains(relative))
            {
                problems.Add(new PackageProblem(relative, null, "is in the package folder but not in the manifest's file list."));
            }
        }

        return (files, bytes);
    }
}
