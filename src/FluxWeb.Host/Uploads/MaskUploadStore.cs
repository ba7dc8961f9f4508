using System.Text.RegularExpressions;
using FluxWeb.Persistence;
using FluxWeb.Provenance.Decoding;
using Microsoft.Extensions.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Host.Uploads;

/// <summary>A mask as stored: white pixels are repainted, black ones kept.</summary>
public sealed record StoredMask(Guid Id, int Width, int Height, long PaintedPixels);

/// <summary>
/// Masks painted in the mask editor, one grayscale PNG per mask under <c>&lt;data&gt;/uploads/&lt;userId&gt;/</c>.
/// The folder is the owner check: a user can only ever name files in their own folder. Files are
/// re-encoded from the decoded pixels, never stored as sent. To be folded into the general image store.
/// </summary>
public sealed partial class MaskUploadStore : IDisposable
{
    public const string Folder = "uploads";

    /// <summary>A 2048² mask from the editor is well under 1 MiB; even an 8192² one with soft edges fits.</summary>
    public const long MaxMaskBytes = 16L * 1024 * 1024;

    public const int MaxMaskSide = 8192;

    private static readonly PngEncoder GrayscalePng = new()
    {
        ColorType = PngColorType.Grayscale,
        BitDepth = PngBitDepth.Bit8,
        CompressionLevel = PngCompressionLevel.DefaultCompression,
    };

    private readonly string _root;
    private readonly SafeImageDecoder _decoder;

    // Bounds decoding memory the way SafeImageDecoder does for its own decodes: an L8 8192² mask is 64 MiB.
    private readonly SemaphoreSlim _decodes = new(2);

    public MaskUploadStore(IOptions<PersistenceOptions> persistence, SafeImageDecoder decoder)
    {
        _root = Path.Combine(Path.GetFullPath(persistence.Value.DataDirectory), Folder);
        _decoder = decoder;
    }

    /// <summary>Checks, decodes and stores a mask PNG; refusals are <see cref="UnsafeImageException"/>s with a message for the user.</summary>
    public async Task<StoredMask> SaveAsync(string ownerId, byte[] png, CancellationToken cancellationToken = default)
    {
        var folder = OwnerFolder(ownerId);
        if (png.LongLength > MaxMaskBytes)
        {
            throw TooLarge();
        }

        await _decodes.WaitAsync(cancellationToken);
        StoredMask stored;
        byte[] encoded;
        try
        {
            using var mask = Decode(png);
            stored = new StoredMask(Guid.NewGuid(), mask.Width, mask.Height, CountPainted(mask));
            using var output = new MemoryStream();
            await mask.SaveAsync(output, GrayscalePng, cancellationToken);
            encoded = output.ToArray();
        }
        finally
        {
            _decodes.Release();
        }

        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, FileName(stored.Id));
        // Written beside and moved, so a reader never sees half a file.
        var partial = path + ".partial";
        await File.WriteAllBytesAsync(partial, encoded, cancellationToken);
        File.Move(partial, path, overwrite: true);
        return stored;
    }

    /// <summary>The mask's file when <paramref name="ownerId"/> saved it; null otherwise (absent and not yours look the same).</summary>
    public string? FindPath(string ownerId, Guid id)
    {
        var path = Path.Combine(OwnerFolder(ownerId), FileName(id));
        return File.Exists(path) ? path : null;
    }

    public void Dispose() => _decodes.Dispose();

    public static UnsafeImageException TooLarge() => new(
        UnsafeImageReason.TooLarge,
        $"The mask is larger than the {MaxMaskBytes / (1024 * 1024)} MiB limit for masks. Masks from the mask editor are far smaller: save it from there again.");

    /// <summary>
    /// The hardened checks first (format from the bytes, PNG structure, Identify and dimension limits), then a
    /// decode straight to 8-bit gray on the decoder's restricted configuration.
    /// </summary>
    private Image<L8> Decode(byte[] png)
    {
        // Checked before the shared decoder, whose refusal would suggest JPEG or WebP, which masks cannot be.
        if (!png.AsSpan().StartsWith(PngSignature))
        {
            throw new UnsafeImageException(UnsafeImageReason.UnsupportedFormat, "Masks are uploaded as PNG images, and this file is not a PNG. Save the mask from the mask editor, which sends PNG.");
        }

        var (_, orientation) = _decoder.Inspect(png);

        if (orientation != 1)
        {
            // A rotated mask would no longer line up with its image; the editor never writes one.
            throw new UnsafeImageException(UnsafeImageReason.Corrupt, "The mask PNG carries an EXIF rotation, so it would not line up with its image. Save it without rotation.");
        }

        Image<L8> mask;
        try
        {
            mask = Image.Load<L8>(_decoder.Configuration, png);
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

    private string OwnerFolder(string ownerId)
    {
        // Identity's ids are GUID strings; anything else must not become a path.
        if (!SafeOwnerId().IsMatch(ownerId))
        {
            throw new ArgumentException("The user id cannot name a folder.", nameof(ownerId));
        }

        return Path.Combine(_root, ownerId);
    }

    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private static string FileName(Guid id) => $"mask-{id:N}.png";

    [GeneratedRegex("^[A-Za-z0-9-]{1,64}$")]
    private static partial Regex SafeOwnerId();
}
