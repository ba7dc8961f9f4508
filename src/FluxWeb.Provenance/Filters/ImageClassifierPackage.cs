using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace FluxWeb.Provenance.Filters;

/// <summary>Where an installed classifier came from: the npm package, and the registry or file it was read from.</summary>
public sealed record ClassifierSource(string Package, string Version, string? Registry, string Tarball, string Integrity);

public sealed record ClassifierLicence(string Id, string File);

public sealed record ClassifierInput(string Name, string Layout, int Size, string Preprocessing);

public sealed record ClassifierFile(string Path, long Bytes, string Sha256);

/// <summary>
/// <c>manifest.json</c> of an image classifier package (a folder under the classifiers folder):
/// what the model is, where it came from, its licence, its classes in output order, how its input is
/// made, and every file with its SHA-256, checked each time the package is loaded.
/// </summary>
public sealed record ImageClassifierManifest
{
    public const string FileName = "manifest.json";
    public const string Kind = "image-classifier";

    /// <summary>nsfwjs's <c>infer</c>: RGB/255, <c>tf.image.resizeBilinear</c> to size×size with alignCorners, NHWC batch of 1.</summary>
    public const string NsfwjsPreprocessing = "nsfwjs-infer";

    public int SchemaVersion { get; init; } = 1;

    [JsonPropertyName("kind")]
    public string PackageKind { get; init; } = Kind;

    public required string Id { get; init; }

    public required string DisplayName { get; init; }

    public required string Model { get; init; }

    public required ClassifierSource Source { get; init; }

    public required ClassifierLicence Licence { get; init; }

    public required IReadOnlyList<string> Classes { get; init; }

    public required ClassifierInput Input { get; init; }

    public required string Output { get; init; }

    public required string Graph { get; init; }

    public required IReadOnlyList<ClassifierFile> Files { get; init; }

    public DateTime InstalledUtc { get; init; }

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public void Write(string folder) =>
        File.WriteAllText(Path.Combine(folder, FileName), JsonSerializer.Serialize(this, Json));

    /// <summary>The files of <paramref name="folder"/> (all but the manifest) with their sizes and hashes.</summary>
    public static List<ClassifierFile> Describe(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(folder, path).Replace('\\', '/'))
            .Where(path => path != FileName)
            .Order(StringComparer.Ordinal)
            .Select(path => new ClassifierFile(path, new FileInfo(Path.Combine(folder, path)).Length, Sha256(Path.Combine(folder, path))))
            .ToList();

    /// <summary>Reads and checks a package: manifest fields, and every listed file present with its hash. Errors name the file.</summary>
    public static ImageClassifierManifest Load(string folder)
    {
        var path = Path.Combine(folder, FileName);
        var shown = $"{Path.GetFileName(folder)}/{FileName}";
        ImageClassifierManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ImageClassifierManifest>(File.ReadAllText(path), Json);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{shown} is not a valid classifier manifest ({ex.Message}).", ex);
        }

        if (manifest is null || manifest.PackageKind != Kind || manifest.SchemaVersion != 1)
        {
            throw new InvalidDataException($"{shown} is not an image classifier manifest (schema 1, kind \"{Kind}\").");
        }

        if (manifest.Classes.Count == 0 || string.IsNullOrWhiteSpace(manifest.Licence.Id) || manifest.Input.Size <= 0)
        {
            throw new InvalidDataException($"{shown}: classes, licence and input size are required.");
        }

        if (manifest.Input.Preprocessing != NsfwjsPreprocessing || manifest.Input.Layout != "NHWC")
        {
            throw new InvalidDataException($"{shown}: input preprocessing '{manifest.Input.Preprocessing}' ({manifest.Input.Layout}) is unknown; this FluxWeb reads '{NsfwjsPreprocessing}' (NHWC).");
        }

        foreach (var file in manifest.Files)
        {
            var full = Path.GetFullPath(Path.Combine(folder, file.Path));
            if (!full.StartsWith(Path.GetFullPath(folder) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"{shown} lists '{file.Path}', which is outside the package.");
            }

            if (!File.Exists(full))
            {
                throw new InvalidDataException($"{shown} lists '{file.Path}', which is missing.");
            }

            if (new FileInfo(full).Length != file.Bytes || !string.Equals(Sha256(full), file.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidDataException($"{Path.GetFileName(folder)}/{file.Path} does not match its SHA-256 in the manifest: the package was changed or damaged; install it again.");
            }
        }

        if (!manifest.Files.Any(f => f.Path == manifest.Graph) || !manifest.Files.Any(f => f.Path == manifest.Licence.File))
        {
            throw new InvalidDataException($"{shown}: the graph '{manifest.Graph}' and the licence file '{manifest.Licence.File}' must be among its files.");
        }

        return manifest;
    }

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
