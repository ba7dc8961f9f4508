using System.Globalization;
using System.Security.Cryptography;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Time;
using FluxWeb.Persistence;
using FluxWeb.Provenance.Decoding;
using FluxWeb.Provenance.Filters;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Application.Images;

/// <summary>A stored image's file, opened for one reader who may see it.</summary>
public sealed record ImageFile(StoredImage Image, string FullPath);

/// <summary>
/// Image files under <c>&lt;data&gt;/images/</c> with their rows: storing them, and reading them for
/// <see cref="ImageAccess"/> only. Its readers are internal on purpose: every read from outside this
/// assembly (an endpoint, a page, the command line) goes through <see cref="ImageAccess"/>, which
/// applies ownership, the image's kind and the licence in one place.
/// </summary>
public sealed partial class ImageStore(
    IDbContextFactory<FluxWebDbContext> contexts,
    IOptions<PersistenceOptions> persistence,
    SafeImageDecoder decoder,
    ImageContentFilter filter,
    UploadLicenceCheck uploads,
    IImageFiles files,
    AppClock time,
    ILogger<ImageStore> logger)
{
    public const string Folder = "images";

    /// <summary>A file being written is named after its final name plus this, and renamed once complete.</summary>
    public const string PartialSuffix = ".partial";

    /// <summary>A partial file older than this belongs to no write in progress (a write takes milliseconds, even of the largest PNG).</summary>
    public static readonly TimeSpan AbandonedPartialAge = TimeSpan.FromMinutes(1);

    private static readonly PngEncoder Png = new() { CompressionLevel = PngCompressionLevel.DefaultCompression };

    public string Root => Path.Combine(Path.GetFullPath(persistence.Value.DataDirectory), Folder);

    /// <summary>
    /// Stores an uploaded input (a picture, or with <paramref name="kind"/> Mask a mask given as a file)
    /// as PNG after the hardened decoder (size caps, identify before decode, PNG/JPEG/WebP only,
    /// orientation applied, metadata dropped), for pictures the input safety check, and for every
    /// upload the licence check of its watermark (<see cref="UploadLicenceCheck"/>). Refusals are
    /// <see cref="InvalidImageException"/> with the status code the HTTP layer should answer.
    /// </summary>
    /// <param name="channel">Where the upload came from, for the audit log of a licence refusal (api, ui, cli).</param>
    public async Task<StoredImage> SaveUploadAsync(
        string ownerId, Stream content, string? fileName = null, bool screen = true, StoredImageKind kind = StoredImageKind.Upload, string channel = "api", CancellationToken cancellationToken = default)
    {
        if (kind == StoredImageKind.Output)
        {
            throw new ArgumentException("Outputs are written by the job runner, not uploaded.", nameof(kind));
        }

        byte[] bytes;
        Image<Rgba32> decoded;
        try
        {
            bytes = await decoder.ReadBoundedAsync(content, cancellationToken);
            decoded = decoder.Decode(bytes, fileName);
        }
        catch (UnsafeImageException ex)
        {
            throw new InvalidImageException(ex.Message, ex.SuggestedStatusCode);
        }

        using (decoded)
        {
            if (screen && filter.Screen(decoded, ImageRole.Input) is { Verdict: ContentVerdict.Blocked or ContentVerdict.BlurredForReview } decision)
            {
                throw new InvalidImageException(decision.Message ?? "The image was refused by the content filter.", 422);
            }

            if (await uploads.RefusalAsync(ownerId, uploads.SerialIn(decoded), channel, cancellationToken) is { } refused)
            {
                throw new InvalidImageException(refused, InvalidImageException.LicenceRefused);
            }

            using var image = decoded.CloneAs<Rgb24>();
            return await StorePictureAsync(NewInputRow(ownerId, kind), image, cancellationToken);
        }
    }

    /// <summary>
    /// Stores a mask that the caller has already decoded, checked (its watermark included) and
    /// re-encoded as 8-bit grey PNG (the mask editor's masks), so jobs find it by id.
    /// </summary>
    public async Task<StoredImage> SaveMaskAsync(string ownerId, byte[] png, int width, int height, CancellationToken cancellationToken = default)
    {
        var row = NewInputRow(ownerId, StoredImageKind.Mask);
        await WriteBytesAsync(row, png, width, height, $"{row.Id:N}", cancellationToken);
        await RecordAsync(row, cancellationToken);
        return row;
    }

    /// <summary>
    /// Stores a picture made here from <paramref name="original"/> (an extension's canvas) as an input of its owner's. It
    /// carries the original's model and licence: <see cref="LicenceGate.Facts(StoredImage)"/> then applies that licence
    /// to it at every door, as to the output its pixels came from (no watermark is relied on: a canvas's is shifted).
    /// </summary>
    public async Task<StoredImage> SaveDerivedPictureAsync(StoredImage original, Image<Rgb24> picture, CancellationToken cancellationToken = default)
    {
        var row = NewInputRow(original.OwnerId, StoredImageKind.Upload);
        (row.ModelId, row.LicenceId, row.CommercialUse) = (original.ModelId, original.LicenceId, original.CommercialUse);
        return await StorePictureAsync(row, picture, cancellationToken);
    }

    /// <summary>
    /// Removes inputs stored for a submission that was then refused (an extension's canvas and mask), row and file;
    /// one that a job already names is kept.
    /// </summary>
    public async Task DiscardUnusedInputsAsync(IReadOnlyCollection<Guid> imageIds, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var unused = await db.Images.AsNoTracking()
            .Where(i => imageIds.Contains(i.Id) && i.Kind != StoredImageKind.Output)
            .Where(i => !db.Jobs.Any(j => j.Settings.SourceImageId == i.Id || j.Settings.MaskImageId == i.Id))
            .ToListAsync(cancellationToken);
        foreach (var image in unused)
        {
            if (await db.Images.Where(i => i.Id == image.Id).ExecuteDeleteAsync(cancellationToken) > 0)
            {
                DeleteStoredFiles(image.RelativePath);
            }
        }
    }

    /// <summary>A new input's row (an upload, a mask, a canvas), its file fields filled in when the file is written.</summary>
    private static StoredImage NewInputRow(string ownerId, StoredImageKind kind) => new()
    {
        Id = Guid.NewGuid(),
        OwnerId = ownerId,
        Kind = kind,
        RelativePath = "",
        ContentType = "image/png",
        Sha256 = "",
    };

    /// <summary>Writes a picture as PNG under its row's id, then records the row.</summary>
    private async Task<StoredImage> StorePictureAsync(StoredImage row, Image<Rgb24> picture, CancellationToken cancellationToken)
    {
        await WriteFileAsync(row, picture, $"{row.Id:N}", cancellationToken);
        await RecordAsync(row, cancellationToken);
        return row;
    }

    /// <summary>Adds an upload's row; when the database refuses it, the file it describes goes too.</summary>
    private async Task RecordAsync(StoredImage row, CancellationToken cancellationToken)
    {
        try
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            db.Images.Add(row);
            await db.SaveChangesAsync(cancellationToken);
        }
        catch
        {
            DeleteUnrecordedFile(row);
            throw;
        }
    }

    /// <summary>The stored file's bytes when <paramref name="ownerId"/> owns the image (the C2PA ingredients of an output).</summary>
    internal async Task<byte[]?> ReadOwnedBytesAsync(string ownerId, Guid imageId, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var image = await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == imageId && i.OwnerId == ownerId, cancellationToken);
        var path = image is null ? null : FullPath(image.RelativePath);
        return path is not null && File.Exists(path) ? await File.ReadAllBytesAsync(path, cancellationToken) : null;
    }

    /// <summary>
    /// Writes a generated image's file and fills in its row's file fields; the caller saves the row
    /// in the same transaction that marks the job succeeded. The file is named after the job and the
    /// epoch of the claim that made it: two runs of one job (a hung worker's and the one that took the
    /// job over) never write or delete each other's file, and the run that loses deletes its own.
    /// </summary>
    public Task WriteOutputFileAsync(StoredImage row, Guid jobId, long epoch, byte[] png, int width, int height, CancellationToken cancellationToken = default)
    {
        row.Kind = StoredImageKind.Output;
        return WriteBytesAsync(row, png, width, height, OutputFileName(jobId, epoch), cancellationToken);
    }

    /// <summary>
    /// Removes the output file (and a partial one) that the run of <paramref name="jobId"/> under
    /// <paramref name="epoch"/> may have left when it was taken back: a worker killed between writing its file
    /// and committing its row cannot delete the file itself. The caller calls this only once that epoch can never
    /// commit (<see cref="JobReclaimer"/>, after its conditional update). A file lies in the folder of the month
    /// it was written, on the writer's clock, so only the months from the claim to <paramref name="latestWriteUtc"/>
    /// are looked in, never the whole gallery. A file that a row points to is kept. Returns how many files were removed;
    /// a file that cannot be deleted is logged and left.
    /// </summary>
    public async Task<int> RemoveOutputOfTakenBackRunAsync(Guid jobId, long epoch, DateTime claimedUtc, DateTime latestWriteUtc, CancellationToken cancellationToken = default)
    {
        var name = OutputFileName(jobId, epoch);
        var removed = 0;
        for (var month = new DateTime(claimedUtc.Year, claimedUtc.Month, 1, 0, 0, 0, DateTimeKind.Utc); month <= latestWriteUtc; month = month.AddMonths(1))
        {
            var relativePath = RelativePathIn(month, name);
            var path = FullPath(relativePath);
            // A kill during the write leaves the partial file; nothing else would remove it until a process starts.
            if (File.Exists(path + PartialSuffix) && TryDelete(path + PartialSuffix))
            {
                LogTakenBackOutputRemoved(logger, relativePath + PartialSuffix, jobId, epoch);
                removed++;
            }

            if (!File.Exists(path))
            {
                continue;
            }

            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            if (await db.Images.AsNoTracking().AnyAsync(i => i.JobId == jobId && i.RelativePath == relativePath, cancellationToken))
            {
                // Cannot happen while the epoch's row is only written with its success; kept rather than ever orphan a row.
                continue;
            }

            if (TryDelete(path))
            {
                LogTakenBackOutputRemoved(logger, relativePath, jobId, epoch);
                removed++;
            }
        }

        return removed;
    }

    private static string OutputFileName(Guid jobId, long epoch) => string.Create(CultureInfo.InvariantCulture, $"job-{jobId:N}-{epoch}");

    private static string RelativePathIn(DateTime written, string fileName) =>
        string.Create(CultureInfo.InvariantCulture, $"{Folder}/{written:yyyy}/{written:MM}/{fileName}.png");

    /// <summary>The image's row and file when <paramref name="viewer"/> owns it or administers; no licence check (that is <see cref="ImageAccess"/>'s).</summary>
    internal async Task<ImageFile?> FindAsync(JobActor viewer, Guid imageId, CancellationToken cancellationToken = default)
    {
        var image = await RowAsync(imageId, cancellationToken);
        return image is not null && viewer.MayAccess(image.OwnerId) && ExistingFile(image) is { } path ? new ImageFile(image, path) : null;
    }

    /// <summary>Any image's row, whoever owns it; the caller decides who may have it.</summary>
    internal async Task<StoredImage?> RowAsync(Guid imageId, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == imageId, cancellationToken);
    }

    /// <summary>The file of a row, or null when it is not on disk (any more).</summary>
    internal string? ExistingFile(StoredImage image)
    {
        var path = FullPath(image.RelativePath);
        return File.Exists(path) ? path : null;
    }

    /// <summary>Decodes an input for the engine; only the owner's own images may be used.</summary>
    internal async Task<Image<TPixel>?> LoadAsync<TPixel>(string ownerId, Guid imageId, CancellationToken cancellationToken = default)
        where TPixel : unmanaged, IPixel<TPixel>
    {
        var image = await RowAsync(imageId, cancellationToken);
        return image is not null && image.OwnerId == ownerId && ExistingFile(image) is { } path ? await Image.LoadAsync<TPixel>(path, cancellationToken) : null;
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
        using var encoded = new MemoryStream();
        await image.SaveAsync(encoded, Png, cancellationToken);
        await WriteBytesAsync(row, encoded.ToArray(), image.Width, image.Height, fileName, cancellationToken);
    }

    private async Task WriteBytesAsync(StoredImage row, byte[] bytes, int width, int height, string fileName, CancellationToken cancellationToken)
    {
        if (row.Id == Guid.Empty)
        {
            row.Id = Guid.NewGuid();
        }

        row.CreatedUtc = time.GetUtcNow().UtcDateTime;
        row.RelativePath = RelativePathIn(row.CreatedUtc, fileName);
        row.ContentType = "image/png";
        row.Width = width;
        row.Height = height;
        row.SizeBytes = bytes.Length;
        row.Sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));

        var path = FullPath(row.RelativePath);
        // Write beside and move, so a reader never sees half a file.
        var partial = path + PartialSuffix;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await using (var stream = files.Create(partial))
            {
                await stream.WriteAsync(bytes, cancellationToken);
                await stream.FlushAsync(cancellationToken);
            }

            File.Move(partial, path, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Half a file must not outlive the failure (a full disk stays full with it).
            TryDelete(partial);
            LogWriteFailed(logger, ex, row.RelativePath);
            throw ImageStorageException.From(ex);
        }
    }

    /// <summary>Removes a stored file whose row was never written (the database refused it after the file was stored).</summary>
    public void DeleteUnrecordedFile(StoredImage row)
    {
        if (!string.IsNullOrEmpty(row.RelativePath))
        {
            TryDelete(FullPath(row.RelativePath));
        }
    }

    /// <summary>
    /// Start-up: removes the partial files that interrupted writes left (a crash, a full disk) and that
    /// no write still in progress owns. Returns how many were removed.
    /// </summary>
    public int RemoveAbandonedPartialFiles()
    {
        if (!Directory.Exists(Root))
        {
            return 0;
        }

        // The file system's clock, not the AppClock: file times are real.
        var cutoff = DateTime.UtcNow - AbandonedPartialAge;
        var removed = 0;
        foreach (var file in new DirectoryInfo(Root).EnumerateFiles("*" + PartialSuffix, SearchOption.AllDirectories))
        {
            // Recent ones may belong to another process on this data folder (the CLI) writing right now.
            if (file.LastWriteTimeUtc < cutoff && TryDelete(file.FullName))
            {
                removed++;
            }
        }

        if (removed > 0)
        {
            LogPartialsRemoved(logger, removed);
        }

        return removed;
    }

    /// <summary>
    /// Removes a stored image's file and its thumbnail once its row is gone (nothing points at them any more). A file
    /// the file system refuses to remove is logged and left; false then.
    /// </summary>
    public bool DeleteStoredFiles(string relativePath)
    {
        var path = FullPath(relativePath);
        try
        {
            ThumbnailStore.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogDeleteFailed(logger, ex, ThumbnailStore.PathFor(path));
        }

        return !File.Exists(path) || TryDelete(path);
    }

    /// <summary>Removes a file under the data folder; a refusal is logged and left (false).</summary>
    internal bool TryDeleteStoredFile(string relativePath) => TryDelete(FullPath(relativePath));

    private bool TryDelete(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogDeleteFailed(logger, ex, path);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not write the image file {RelativePath}")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, string relativePath);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not delete {Path}")]
    private static partial void LogDeleteFailed(ILogger logger, Exception exception, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {RelativePath}, the output file of job {JobId}'s run (epoch {Epoch}) that was taken back before it committed")]
    private static partial void LogTakenBackOutputRemoved(ILogger logger, string relativePath, Guid jobId, long epoch);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Count} partial image files left by interrupted writes")]
    private static partial void LogPartialsRemoved(ILogger logger, int count);
}

/// <summary>An upload that is not an image FluxWeb accepts; the message is for the user, the status code for HTTP (400, 403, 413, 415, 422).</summary>
public sealed class InvalidImageException(string message, int statusCode = 400) : Exception(message)
{
    /// <summary>The account's licence does not allow this picture (its watermark traces it to a non-commercial model).</summary>
    public const int LicenceRefused = 403;

    public int StatusCode { get; } = statusCode;
}
