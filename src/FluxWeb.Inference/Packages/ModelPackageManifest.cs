using System.Text.Json;
using System.Text.Json.Serialization;

namespace FluxWeb.Inference.Packages;

public sealed record ModelLicence(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("commercialUse")] bool CommercialUse);

/// <summary>
/// The part of <c>manifest.json</c> every reader needs. A package without a licence does not
/// load: the app never guesses one.
/// </summary>
public sealed record ModelPackageManifest(
    [property: JsonPropertyName("schemaVersion")] int SchemaVersion,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("displayName")] string DisplayName,
    [property: JsonPropertyName("family")] string Family,
    [property: JsonPropertyName("licence")] ModelLicence? Licence)
{
    public const string FileName = "manifest.json";

    /// <param name="path">The manifest file.</param>
    /// <param name="displayPath">How errors name the file (relative to the models folder, so nothing about the server leaks).</param>
    public static ModelPackageManifest Read(string path, string? displayPath = null)
    {
        var shown = displayPath ?? path;
        ModelPackageManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ModelPackageManifest>(File.ReadAllText(path));
        }
        catch (JsonException ex)
        {
            throw new ModelPackageException(shown, ex.Path ?? "$", $"is not valid JSON: {ex.Message}");
        }

        if (manifest is null)
        {
            throw new ModelPackageException(shown, "$", "is empty.");
        }

        if (string.IsNullOrWhiteSpace(manifest.Id))
        {
            throw new ModelPackageException(shown, "id", "is missing.");
        }

        if (manifest.Licence is null || string.IsNullOrWhiteSpace(manifest.Licence.Id))
        {
            throw new ModelPackageException(shown, "licence.id", "is missing: a package must declare its licence (an SPDX id or FLUX-Non-Commercial).");
        }

        return manifest;
    }
}

/// <summary>A package that cannot be used, naming the file and the field at fault.</summary>
public sealed class ModelPackageException(string file, string field, string problem)
    : Exception($"{file}: '{field}' {problem}")
{
    public string File { get; } = file;

    public string Field { get; } = field;
}
