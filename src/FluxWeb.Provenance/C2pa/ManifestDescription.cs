using System.Reflection;
using System.Security.Cryptography;
using FluxWeb.Provenance.Decoding;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

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

    /// <summary>Optional JPEG thumbnail (see <see cref="CreateThumbnail"/>), embedded as c2pa.thumbnail.ingredient.jpeg.</summary>
    public byte[]? ThumbnailJpeg { get; init; }

    /// <summary>A JPEG of at most <paramref name="maxSide"/> pixels on the long side, for <see cref="ThumbnailJpeg"/>.</summary>
    public static byte[] CreateThumbnail(Image<Rgba32> image, int maxSide = 256)
    {
        using var thumbnail = image.Clone(x => x.Resize(new ResizeOptions { Size = new Size(maxSide, maxSide), Mode = ResizeMode.Max }));
        thumbnail.Metadata.ExifProfile = null;
        using var stream = new MemoryStream();
        thumbnail.Save(stream, new JpegEncoder { Quality = 80 });
        return stream.ToArray();
    }

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
