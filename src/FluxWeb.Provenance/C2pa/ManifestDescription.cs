using System.Reflection;
using System.Security.Cryptography;
using FluxWeb.Provenance.Decoding;

namespace FluxWeb.Provenance.C2pa;

/// <summary>What a FluxWeb output's manifest says: the model that made it and the images it was made from.</summary>
public sealed record ManifestDescription
{
    public required string ModelId { get; init; }

    public required string ModelLicence { get; init; }

    public string SoftwareVersion { get; init; } = DefaultSoftwareVersion;

    /// <summary>Optional <c>dc:title</c> of the output.</summary>
    public string? Title { get; init; }

    public IReadOnlyList<IngredientDescription> Ingredients { get; init; } = [];

    public static string DefaultSoftwareVersion { get; } =
        typeof(ManifestDescription).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
}

/// <summary>An input image (reference, source, mask): recorded as a <c>c2pa.ingredient.v3</c> with relationship inputTo.</summary>
public sealed record IngredientDescription(string Title, string Format, string InstanceId)
{
    public string Relationship { get; init; } = "inputTo";

    /// <summary>Describes an uploaded file by its content: MIME type from the bytes, instance id from SHA-256.</summary>
    public static IngredientDescription FromBytes(string title, byte[] content)
    {
        var format = content.Length > 0 ? TryFormat(content) : null;
        return new IngredientDescription(title, format ?? "application/octet-stream", $"sha256:{Convert.ToHexStringLower(SHA256.HashData(content))}");
    }

    private static string? TryFormat(byte[] content)
    {
        try
        {
            return ImageContainer.Sniff(content) switch
            {
                ImageContainerFormat.Png => "image/png",
                ImageContainerFormat.Jpeg => "image/jpeg",
                _ => "image/webp",
            };
        }
        catch (UnsafeImageException)
        {
            return null;
        }
    }
}
