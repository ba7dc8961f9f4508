using FluxWeb.Application.Images;
using FluxWeb.Application.Licensing;
using FluxWeb.Provenance.Decoding;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Host.Uploads;

/// <summary>A mask as stored: white pixels are repainted, black ones kept.</summary>
public sealed record StoredMask(Guid Id, int Width, int Height, long PaintedPixels);

/// <summary>
/// Masks painted in the mask editor: checked as PNG, decoded to 8-bit grey and re-encoded (never
/// stored as sent), then kept in the image store as the user's mask, so a job can use it by id.
/// A mask sent in colour could be a copy of a generated picture (its brightness survives the grey
/// conversion): its watermark is read first, like every upload's (<see cref="UploadLicenceCheck"/>).
/// </summary>
public sealed class MaskUploadStore : IDisposable
{
    /// <summary>A 2048² mask from the editor is well under 1 MiB; even an 8192² one with soft edges fits.</summary>
    public const long MaxMaskBytes = 16L * 1024 * 1024;

    public const int MaxMaskSide = 8192;

    private static readonly PngEncoder GrayscalePng = new()
    {
        ColorType = PngColorType.Grayscale,
        BitDepth = PngBitDepth.Bit8,
        CompressionLevel = PngCompressionLevel.DefaultCompression,
    };

    private readonly ImageStore images;
    private readonly SafeImageDecoder decoder;
    private readonly UploadLicenceCheck licence;

    // Bounds decoding memory the way SafeImageDecoder does for its own decodes: an L8 8192² mask is 64 MiB.
    private readonly SemaphoreSlim decodes = new(2);

    public MaskUploadStore(ImageStore images, SafeImageDecoder decoder, UploadLicenceCheck licence)
    {
        this.images = images;
        this.decoder = decoder;
        this.licence = licence;
    }

    /// <summary>
    /// Checks, decodes and stores a mask PNG. Refusals are <see cref="UnsafeImageException"/>s with a message for the user,
    /// or an <see cref="InvalidImageException"/> with status 403 when its watermark traces it to a model the account's licence excludes.
    /// </summary>
    /// <param name="channel">Where it came from, for the audit log of a licence refusal.</param>
    public async Task<StoredMask> SaveAsync(string ownerId, byte[] png, string channel = "api", CancellationToken cancellationToken = default)
    {
        if (png.LongLength > MaxMaskBytes)
        {
            throw TooLarge();
        }

        await decodes.WaitAsync(cancellationToken);
        byte[] encoded;
        int width, height;
        long painted;
        long? serial;
        try
        {
            using var mask = Decode(png, out serial);
            (width, height, painted) = (mask.Width, mask.Height, CountPainted(mask));
            using var output = new MemoryStream();
            await mask.SaveAsync(output, GrayscalePng, cancellationToken);
            encoded = output.ToArray();
        }
        finally
        {
            decodes.Release();
        }

        if (await licence.RefusalAsync(ownerId, serial, channel, cancellationToken) is { } refused)
        {
            throw new InvalidImageException(refused, InvalidImageException.LicenceRefused);
        }

        var row = await images.SaveMaskAsync(ownerId, encoded, width, height, cancellationToken);
        return new StoredMask(row.Id, width, height, painted);
    }

    public void Dispose() => decodes.Dispose();

    public static UnsafeImageException TooLarge() => new(
        UnsafeImageReason.TooLarge,
        $"The mask is larger than the {MaxMaskBytes / (1024 * 1024)} MiB limit for masks. Masks from the mask editor are far smaller: save it from there again.");

    /// <summary>
    /// The hardened checks first (format from the bytes, PNG structure, Identify and dimension limits), then a
    /// decode on the decoder's restricted configuration: straight to 8-bit grey for a grey PNG (no colour, so no
    /// watermark), else in colour to read the watermark (<paramref name="serial"/>) before the colour is dropped.
    /// </summary>
    private Image<L8> Decode(byte[] png, out long? serial)
    {
        serial = null;

        // Checked before the shared decoder, whose refusal would suggest JPEG or WebP, which masks cannot be.
        if (!png.AsSpan().StartsWith(PngSignature))
        {
            throw new UnsafeImageException(UnsafeImageReason.UnsupportedFormat, "Masks are uploaded as PNG images, and this file is not a PNG. Save the mask from the mask editor, which sends PNG.");
        }

        var (_, orientation) = decoder.Inspect(png);

        if (orientation != 1)
        {
            // A rotated mask would no longer line up with its image; the editor never writes one.
            throw new UnsafeImageException(UnsafeImageReason.Corrupt, "The mask PNG carries an EXIF rotation, so it would not line up with its image. Save it without rotation.");
        }

        Image<L8> mask;
        try
        {
            if (IsGrey(png))
            {
                mask = Image.Load<L8>(decoder.Configuration, png);
            }
            else
            {
                using var colour = Image.Load<Rgba32>(decoder.Configuration, png);
                serial = licence.SerialIn(colour);
                mask = colour.CloneAs<L8>();
            }
        }
        catch (Exception exception) when (exception is not (OutOfMemoryException or OperationCanceledException))
        {
            throw new UnsafeImageException(UnsafeImageReason.Corrupt, "The mask PNG is damaged or uses a feature FluxWeb cannot read. Save it from the mask editor again.", exception);
        }

        if (mask.Width > MaxMaskSide || mask.Height > MaxMaskSide)
        {
            var (width, height) = (mask.Width, mask.Height);
            mask.Dispose();
            throw new UnsafeImageException(UnsafeImageReason.DimensionsTooLarge, $"The mask is {width}×{height} pixels; masks can be at most {MaxMaskSide} pixels on a side.");
        }

        return mask;
    }

    private bool IsGrey(byte[] png)
    {
        using var stream = new MemoryStream(png, writable: false);
        return Image.Identify(decoder.Configuration, stream).Metadata.GetPngMetadata().ColorType is PngColorType.Grayscale or PngColorType.GrayscaleWithAlpha;
    }

    private static long CountPainted(Image<L8> mask)
    {
        long painted = 0;
        mask.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < rows.Height; y++)
            {
                foreach (var pixel in rows.GetRowSpan(y))
                {
                    if (pixel.PackedValue != 0)
                    {
                        painted++;
                    }
                }
            }
        });
        return painted;
    }

    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

}
