using System.Security.Cryptography;

namespace FluxWeb.Inference.Packages;

/// <summary>Seals a package: lists and hashes every file in its folder, then writes (and re-reads, to validate) the manifest.</summary>
public static class ModelPackageWriter
{
    public static ModelPackageManifest Seal(string folder, ModelPackageManifest manifest, IProgress<string>? progress = null)
    {
        var manifestPath = Path.Combine(folder, ModelPackageManifest.FileName);
        manifest.Files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => !string.Equals(Path.GetFullPath(f), Path.GetFullPath(manifestPath), StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .Select(relative =>
            {
                progress?.Report($"hashing {relative}");
                var path = Path.Combine(folder, relative);
                return new PackageFile { Path = relative, Bytes = new FileInfo(path).Length, Sha256 = HashFile(path) };
            })
            .ToList();
        var temporary = manifestPath + ".tmp";
        File.WriteAllText(temporary, manifest.ToJson());
        // Validate before the manifest takes its real name, so a half-built package never looks installed.
        ModelPackageValidator.Validate(manifest, $"{manifest.Id}/{ModelPackageManifest.FileName}", folder);
        File.Move(temporary, manifestPath, overwrite: true);
        return manifest;
    }

    public static string HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
