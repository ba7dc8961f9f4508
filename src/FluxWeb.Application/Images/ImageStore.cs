using System.Globalization;
using System.Security.Cryptography;
using FluxWeb.Application.Jobs;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Images;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Application.Images;

/// <summary>A stored image's file, opened for one reader who may see it.</summary>
public sealed record ImageFile(StoredImage Image, string FullPath);

/// <summary>
/// Image files under <c>&lt;data&gt;/images/</c> with their rows. Every read checks ownership here,
/// so endpoints, the worker and later the gallery share one rule: the owner or an administrator.
/// </summary>
public sealed class ImageStore(IDbContextFactory<FluxWebDbContext> contexts, IOptions<PersistenceOptions> persistence, TimeProvider time)
{
    public const string Folder = "images";

    /// <summary>Uploads larger than this many pixels are refused before they are decoded in full.</summary>
    public const long MaxUploadPixels = 4096L * 4096L;

    private static readonly PngEncoder Png = new() { CompressionLevel = PngCompressionLevel.DefaultCompression };

    public string Root => Path.Combine(Path.GetFullPath(persistence.Value.DataDirectory), Folder);

    /// <summary>
    /// Stores an uploaded input (reference, source or mask) as PNG. Interim decoding with ImageSharp and a
    /// pixel limit; the provenance issue replaces it with the hardened decoder.
    /// </summary>
    public async Task<StoredImage> SaveUploadAsync(string ownerId, Stream content, CancellationToken cancellationToken = default)
    {
        using var buffer = new MemoryStream();
        await content.CopyToAsync(buffer, cancellationToken);
        buffer.Position = 0;
        var info = await Image.IdentifyAsync(buffer, cancellationToken)
            ?? throw new InvalidImageException("The file is not an image FluxWeb can read (PNG, JPEG, WebP, GIF, BMP or TIFF).");
        if ((long)info.Width * info.Height > MaxUploadPixels)
        {
            throw new InvalidImageException($"The image is {info.Width}×{info.Height}; at most {MaxUploadPixels / 1_000_000} megapixels are accepted.");
        }

        buffer.Position = 0;
        using var image = await Image.LoadAsync<Rgb24>(buffer, cancellationToken);
        var id = Guid.NewGuid();
        var row = new StoredImage
        {
            Id = id,
            OwnerId = ownerId,
            Kind = StoredImageKind.Upload,
            RelativePath = "",
            ContentType = "image/png",
            Sha256 = "",
        };
        await WriteFileAsync(row, image, $"{id:N}", cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        db.Images.Add(row);
        await db.SaveChangesAsync(cancellationToken);
        return row;
    }

    /// <summary>
    /// Writes a generated image's file and fills in its row's file fields; the caller saves the row
    /// in the same transaction that marks the job succeeded. The file is named after the job, so a
    /// job run again after a crash overwrites its file instead of leaving a stray one.
    /// </summary>
    public Task WriteOutputFileAsync(StoredImage row, Guid jobId, Image<Rgb24> image, CancellationToken cancellationToken = default)
    {
        row.Kind = StoredImageKind.Output;
        return WriteFileAsync(row, image, $"job-{jobId:N}", cancellationToken);
    }

    /// <summary>The image's row and file when <paramref name="viewer"/> may read it; null otherwise (not found and not yours look the same).</summary>
    public async Task<ImageFile?> FindAsync(JobActor viewer, Guid imageId, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var image = await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == imageId, cancellationToken);
        if (image is null || !viewer.MayAccess(image.OwnerId))
        {
            return null;
        }

        var path = FullPath(image.RelativePath);
        return File.Exists(path) ? new ImageFile(image, path) : null;
    }

    /// <summary>Decodes an input for the engine; only the owner's own images may be used.</summary>
    public async Task<Image<TPixel>?> LoadAsync<TPixel>(string ownerId, Guid imageId, CancellationToken cancellationToken = default)
        where TPixel : unmanaged, IPixel<TPixel>
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var image = await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == imageId && i.OwnerId == ownerId, cancellationToken);
        if (image is null)
        {
            return null;
        }

        var path = FullPath(image.RelativePath);
        return File.Exists(path) ? await Image.LoadAsync<TPixel>(path, cancellationToken) : null;
    }

    public string FullPath(string relativePath)
    {
        var dataDirectory = Path.GetFullPath(persistence.Value.DataDirectory);
        var full = Path.GetFullPath(Path.Combine(dataDirectory, relativePath));
        // Rows are written by this class only, but a path never leaves the data folder.
        if (!full.StartsWith(dataDirectory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new InvalidOperationException("A stored image path points outside the data folder.");
        }

        return full;
    }

    private async Task WriteFileAsync(StoredImage row, Image<Rgb24> image, string fileName, CancellationToken cancellationToken)
    {
        if (row.Id == Guid.Empty)
        {
            row.Id = Guid.NewGuid();
        }

        row.CreatedUtc = time.GetUtcNow().UtcDateTime;
        row.RelativePath = string.Create(CultureInfo.InvariantCulture, $"{Folder}/{row.CreatedUtc:yyyy}/{row.CreatedUtc:MM}/{fileName}.png");
        row.ContentType = "image/png";
        row.Width = image.Width;
        row.Height = image.Height;

        using var encoded = new MemoryStream();
        await image.SaveAsync(encoded, Png, cancellationToken);
        var bytes = encoded.ToArray();
        row.SizeBytes = bytes.Length;
        row.Sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));

        var path = FullPath(row.RelativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // Write beside and move, so a reader never sees half a file.
        var partial = path + ".partial";
        await File.WriteAllBytesAsync(partial, bytes, cancellationToken);
        File.Move(partial, path, overwrite: true);
    }
}

/// <summary>An upload that is not an image FluxWeb accepts; the message is for the user.</summary>
public sealed class InvalidImageException(string message) : Exception(message);
