using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace FluxWeb.Application.Images;

/// <summary>A thumbnail file ready to stream, with the tag that changes when its original does.</summary>
public sealed record ThumbnailFile(string FullPath, string ContentType, string ETag, long Length);

/// <summary>
/// Small WebP copies of stored images for the gallery grid, so a page of fifty images does not
/// download fifty full PNGs. Made on first request and kept beside the original under the data
/// folder (<c>job-….png</c> → <c>job-….thumb320.webp</c>); deleting an image deletes both. Callers
/// check ownership and licence first: this class only turns an allowed original into its thumbnail.
/// </summary>
public sealed class ThumbnailStore : IDisposable
{
    /// <summary>The long side in pixels; smaller originals keep their size.</summary>
    public const int LongSide = 320;

    public const string ContentType = "image/webp";

    internal const string Suffix = ".thumb320.webp";

    private static readonly WebpEncoder Encoder = new() { FileFormat = WebpFileFormatType.Lossy, Quality = 80 };

    // A grid's first visit asks for a page of thumbnails at once; each decode of a 2048² original
    // holds about 16 MB, so only a few run together and the rest wait their turn.
    private readonly SemaphoreSlim decodes = new(Math.Clamp(Environment.ProcessorCount / 2, 1, 4));

    public static string PathFor(string originalFullPath) => Path.ChangeExtension(originalFullPath, null) + Suffix;

    /// <summary>The thumbnail of <paramref name="original"/>, made now if it is not on disk yet.</summary>
    public async Task<ThumbnailFile> GetAsync(ImageFile original, CancellationToken cancellationToken = default)
    {
        var path = PathFor(original.FullPath);
        // The original's hash names the content: a job run again after a crash rewrites its file and so gets a new tag.
        var etag = $"\"{original.Image.Sha256}-t{LongSide}\"";
        if (!File.Exists(path) || File.GetLastWriteTimeUtc(path) < File.GetLastWriteTimeUtc(original.FullPath))
        {
            await CreateAsync(original.FullPath, path, cancellationToken);
        }

        return new ThumbnailFile(path, ContentType, etag, new FileInfo(path).Length);
    }

    /// <summary>Removes an original's thumbnail; false when there was none.</summary>
    public static bool Delete(string originalFullPath)
    {
        var path = PathFor(originalFullPath);
        if (!File.Exists(path))
        {
            return false;
        }

        File.Delete(path);
        return true;
    }

    private async Task CreateAsync(string originalPath, string path, CancellationToken cancellationToken)
    {
        await decodes.WaitAsync(cancellationToken);
        try
        {
            using var image = await Image.LoadAsync<Rgb24>(originalPath, cancellationToken);
            var scale = Math.Min(1.0, (double)LongSide / Math.Max(image.Width, image.Height));
            if (scale < 1.0)
            {
                var size = new Size(Math.Max(1, (int)Math.Round(image.Width * scale)), Math.Max(1, (int)Math.Round(image.Height * scale)));
                image.Mutate(x => x.Resize(size, KnownResamplers.Lanczos3, compand: false));
            }

            // Written beside and moved, so two requests racing for the same new thumbnail never serve half a file.
            var partial = $"{path}.{Guid.NewGuid():N}.partial";
            try
            {
                await using (var file = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true))
                {
                    await image.SaveAsync(file, Encoder, cancellationToken);
                }

                File.Move(partial, path, overwrite: true);
            }
            finally
            {
                File.Delete(partial);
            }
        }
        finally
        {
            decodes.Release();
        }
    }

    public void Dispose() => decodes.Dispose();
}
