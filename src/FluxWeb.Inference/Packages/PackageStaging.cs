namespace FluxWeb.Inference.Packages;

/// <summary>
/// Builds a package in a hidden staging folder and moves it into place only when complete and
/// validated, so a crash or a failed build never leaves a half package that looks installed.
/// </summary>
public static class PackageStaging
{
    public static ModelPackageManifest Build(string modelsDirectory, string id, Func<string, ModelPackageManifest> build, IProgress<string>? progress = null)
    {
        var root = Path.GetFullPath(modelsDirectory);
        var target = Path.Combine(root, id);
        if (Directory.Exists(target))
        {
            throw new InvalidOperationException($"A model package '{id}' already exists in {root}: remove it first or choose another --id.");
        }

        var staging = Path.Combine(root, $".building-{id}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            var manifest = build(staging);
            progress?.Report("hashing files and writing the manifest");
            ModelPackageWriter.Seal(staging, manifest, progress);
            Directory.Move(staging, target);
            return manifest;
        }
        catch
        {
            TryDelete(staging);
            throw;
        }
    }

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
