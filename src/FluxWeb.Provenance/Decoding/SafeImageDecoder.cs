using Microsoft.Extensions.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Memory;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace FluxWeb.Provenance.Decoding;

/// <summary>
/// The one way FluxWeb turns untrusted bytes into pixels. Order matters: bounded read, format from content,
/// container structure (truncation, trailing data), <c>Identify</c> and dimension limits, and only then a decode
/// with metadata off, on a configuration that knows PNG, JPEG and WebP only and whose allocator has a hard limit.
/// </summary>
public sealed class SafeImageDecoder : IDisposable
{
    private readonly ImageDecodingOptions options;
    private readonly SemaphoreSlim concurrency;

    public SafeImageDecoder(IOptions<ImageDecodingOptions> options)
    {
        this.options = options.Value;
        concurrency = new SemaphoreSlim(this.options.MaxConcurrentDecodes);
        Configuration = CreateConfiguration(this.options);
    }

    /// <summary>The dedicated ImageSharp configuration; also right for encoding outputs (no GIF/TIFF/BMP codecs).</summary>
    public Configuration Configuration { get; }

    public ImageDecodingOptions Options => options;

    public static Configuration CreateConfiguration(ImageDecodingOptions options)
    {
        var configuration = new Configuration(new PngConfigurationModule(), new JpegConfigurationModule(), new WebpConfigurationModule())
        {
            MemoryAllocator = MemoryAllocator.Create(new MemoryAllocatorOptions
            {
                AllocationLimitMegabytes = options.AllocationLimitMegabytes,
                MaximumPoolSizeMegabytes = options.PoolSizeMegabytes,
            }),
        };
        configuration.ImageFormatsManager.SetDecoder(PngFormat.Instance, new PngDecoder { IgnoreMetadata = true });
        configuration.ImageFormatsManager.SetDecoder(JpegFormat.Instance, new JpegDecoder { IgnoreMetadata = true });
        configuration.ImageFormatsManager.SetDecoder(WebpFormat.Instance, new WebpDecoder { IgnoreMetadata = true });
        return configuration;
    }

    /// <summary>Reads at most <see cref="ImageDecodingOptions.MaxBytes"/> + 1 bytes, then decodes.</summary>
    /// <param name="declaredFileName">Only used in messages: the format is always taken from the content.</param>
    public async Task<Image<Rgba32>> DecodeAsync(Stream stream, string? declaredFileName = null, CancellationToken cancellationToken = default)
    {
        var data = await ReadBoundedAsync(stream, cancellationToken);
        await concurrency.WaitAsync(cancellationToken);
        try
        {
            return DecodeCore(data, declaredFileName);
        }
        finally
        {
            concurrency.Release();
        }
    }

    public Image<Rgba32> Decode(byte[] data, string? declaredFileName = null)
    {
        concurrency.Wait();
        try
        {
            return DecodeCore(data, declaredFileName);
        }
        finally
        {
            concurrency.Release();
        }
    }

    private Image<Rgba32> DecodeCore(byte[] data, string? declaredFileName)
    {
        var (format, orientation) = Inspect(data, declaredFileName);
        var image = Guard(format, () =>
        {
            using var stream = new MemoryStream(data, writable: false);
            return Image.Load<Rgba32>(Configuration, stream);
        });
        try
        {
            ApplyOrientation(image, orientation);
            image.Metadata.ExifProfile = null;
            image.Metadata.IccProfile = null;
            image.Metadata.XmpProfile = null;
            image.Metadata.IptcProfile = null;
            return image;
        }
        catch
        {
            image.Dispose();
            throw;
        }
    }

    /// <summary>Runs every check that does not need the pixels; returns the format and EXIF orientation.</summary>
    public (ImageContainerFormat Format, int Orientation) Inspect(byte[] data, string? declaredFileName = null)
    {
        if (data.Length == 0)
        {
            throw new UnsafeImageException(UnsafeImageReason.Empty, $"{Describe(declaredFileName)} is empty. Choose the image again and re-upload it.");
        }

        if (data.Length > options.MaxBytes)
        {
            throw TooLarge(declaredFileName);
        }

        var format = ImageContainer.Sniff(data);
        var orientation = ImageContainer.Validate(format, data);
        var info = Guard(format, () =>
        {
            using var stream = new MemoryStream(data, writable: false);
            return Image.Identify(Configuration, stream);
        })
            ?? throw new UnsafeImageException(UnsafeImageReason.Corrupt, $"{Describe(declaredFileName)} could not be read as {Article(format)} image. Re-save it in an image editor and upload it again.");
        if (info.Width < 1 || info.Height < 1)
        {
            throw new UnsafeImageException(UnsafeImageReason.Corrupt, $"{Describe(declaredFileName)} declares an empty picture ({info.Width}×{info.Height}). Re-save it and upload it again.");
        }

        if (info.Width > options.MaxWidth || info.Height > options.MaxHeight || (long)info.Width * info.Height > options.MaxPixels)
        {
            throw new UnsafeImageException(
                UnsafeImageReason.DimensionsTooLarge,
                $"{Describe(declaredFileName)} is {info.Width}×{info.Height} pixels; the limit is {options.MaxWidth}×{options.MaxHeight} " +
                $"and {options.MaxPixels / 1_000_000.0:0.#} megapixels. Scale it down and upload it again.");
        }

        return (format, orientation);
    }

    public void Dispose() => concurrency.Dispose();

    /// <summary>Reads the whole stream, refusing it (TooLarge) as soon as it passes <see cref="ImageDecodingOptions.MaxBytes"/>.</summary>
    public async Task<byte[]> ReadBoundedAsync(Stream stream, CancellationToken cancellationToken = default)
    {
        var limit = options.MaxBytes;
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        while (true)
        {
            var read = await stream.ReadAsync(chunk, cancellationToken);
            if (read == 0)
            {
                return buffer.ToArray();
            }

            if (buffer.Length + read > limit)
            {
                throw TooLarge(null);
            }

            buffer.Write(chunk, 0, read);
        }
    }

    private UnsafeImageException TooLarge(string? declaredFileName) => new(
        UnsafeImageReason.TooLarge,
        $"{Describe(declaredFileName)} is larger than the {options.MaxBytes / (1024.0 * 1024.0):0.#} MiB upload limit. Save it smaller (JPEG or WebP, or fewer pixels) and upload it again.");

    private static T Guard<T>(ImageContainerFormat format, Func<T> action)
    {
        try
        {
            return action();
        }
        catch (Exception exception) when (exception is InvalidMemoryOperationException || exception.InnerException is InvalidMemoryOperationException)
        {
            throw new UnsafeImageException(UnsafeImageReason.ResourceLimit, $"The {format.ToString().ToUpperInvariant()} image needs more memory to decode than FluxWeb allows. Scale it down and upload it again.", exception);
        }
        catch (UnknownImageFormatException exception)
        {
            throw new UnsafeImageException(UnsafeImageReason.UnsupportedFormat, "This file is not an image FluxWeb recognises. Upload a PNG, JPEG or WebP image.", exception);
        }
        catch (Exception exception) when (exception is not (OutOfMemoryException or OperationCanceledException))
        {
            // Decoders fail on crafted input in many ways (format, index, overflow, argument errors): all mean "damaged".
            throw new UnsafeImageException(UnsafeImageReason.Corrupt, $"The {format.ToString().ToUpperInvariant()} image is damaged or uses a feature FluxWeb cannot read. Re-save it in an image editor and upload it again.", exception);
        }
    }

    private static void ApplyOrientation(Image<Rgba32> image, int orientation)
    {
        switch (orientation)
        {
            case 2: image.Mutate(x => x.Flip(FlipMode.Horizontal)); break;
            case 3: image.Mutate(x => x.Rotate(RotateMode.Rotate180)); break;
            case 4: image.Mutate(x => x.Flip(FlipMode.Vertical)); break;
            case 5: image.Mutate(x => x.Rotate(RotateMode.Rotate90).Flip(FlipMode.Horizontal)); break;
            case 6: image.Mutate(x => x.Rotate(RotateMode.Rotate90)); break;
            case 7: image.Mutate(x => x.Rotate(RotateMode.Rotate270).Flip(FlipMode.Horizontal)); break;
            case 8: image.Mutate(x => x.Rotate(RotateMode.Rotate270)); break;
            default: break;
        }
    }

    private static string Describe(string? declaredFileName) =>
        string.IsNullOrWhiteSpace(declaredFileName) ? "The uploaded file" : $"\"{Path.GetFileName(declaredFileName)}\"";

    private static string Article(ImageContainerFormat format) => format == ImageContainerFormat.Png ? "a PNG" : format == ImageContainerFormat.Jpeg ? "a JPEG" : "a WebP";
}
