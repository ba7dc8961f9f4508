using FluxWeb.Provenance.C2pa;
using FluxWeb.Provenance.Watermarking;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Provenance.Marking;

/// <summary>
/// Turns a finished output into the bytes to store: invisible watermark, encode, then C2PA signing as the very last
/// byte operation. Run the output content check before this (a blurred output is marked like any other).
/// </summary>
public sealed class OutputMarker(InvisibleWatermarker watermarker, ContentCredentials credentials)
{
    public byte[] Mark(Image<Rgba32> image, OutputEncoding encoding, long serial, ManifestDescription description)
    {
        watermarker.TryEmbed(image, serial);
        using var stream = new MemoryStream();
        var encoder = encoding == OutputEncoding.Png
            ? (SixLabors.ImageSharp.Formats.IImageEncoder)new PngEncoder()
            : new JpegEncoder { Quality = 95, ColorType = JpegColorType.YCbCrRatio444 };
        image.Metadata.ExifProfile = null;
        image.Metadata.XmpProfile = null;
        image.Save(stream, encoder);
        return credentials.Sign(stream.ToArray(), description);
    }
}
