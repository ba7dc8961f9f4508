using System.Collections.Concurrent;
using System.Security.Cryptography;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Application.Images;

/// <summary>
/// The all-white masks that turn a masked edit into a whole-image img2img (the loop's vary, ADR 0018). One per
/// owner and size is shared by every vary of that size, instead of a new one per vary that nothing removed; it
/// goes when the last image made with it is deleted (the job stays in the history, but nothing can reuse its
/// settings any more), so varies leave at most one small file per size in use.
/// </summary>
public sealed partial class WholeImageMasks(
    IDbContextFactory<FluxWebDbContext> contexts,
    ImageStore store,
    GenerationLimits limits,
    ILogger<WholeImageMasks> logger) : IDisposable
{
    private static readonly PngEncoder GreyPng = new() { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8 };

    // The encoding is deterministic, so a mask of this size is recognised by its hash (and a user's painted mask that
    // happens to be all white is the same picture, sharing it changes nothing).
    private readonly ConcurrentDictionary<(int Width, int Height), (byte[] Png, string Sha256)> encoded = new();

    // Two varies of one size at the same moment would otherwise each store one.
    private readonly SemaphoreSlim creating = new(1, 1);

    // A mask handed to a vary whose submission is still under way has no job yet: it is not released meanwhile.
    private readonly ConcurrentDictionary<Guid, int> inFlight = new();

    /// <summary>
    /// <paramref name="ownerId"/>'s whole mask of this size, stored on first use, kept from release until the lease is
    /// disposed (once the job that uses it is recorded, or refused).
    /// </summary>
    public async Task<WholeMaskLease> RentAsync(string ownerId, int width, int height, CancellationToken cancellationToken = default)
    {
        var (png, sha) = Encoded(width, height);
        await creating.WaitAsync(cancellationToken);
        try
        {
            await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
            {
                var candidates = await db.Images.AsNoTracking()
                    .Where(i => i.OwnerId == ownerId && i.Kind == StoredImageKind.Mask && i.Width == width && i.Height == height && i.Sha256 == sha)
                    .OrderBy(i => i.CreatedUtc)
                    .ToListAsync(cancellationToken);
                if (candidates.FirstOrDefault(i => store.ExistingFile(i) is not null) is { } existing)
                {
                    return Lease(existing.Id);
                }
            }

            return Lease((await store.SaveMaskAsync(ownerId, png, width, height, cancellationToken)).Id);
        }
        finally
        {
            creating.Release();
        }
    }

    /// <summary>
    /// Removes the mask <paramref name="maskId"/> when it is a whole mask and no image made with it is left and no job
    /// waiting or running needs it. Called after an output is deleted; a user's painted masks are never touched here.
    /// </summary>
    public async Task ReleaseIfUnusedAsync(Guid maskId, CancellationToken cancellationToken = default)
    {
        await creating.WaitAsync(cancellationToken);
        StoredImage? mask;
        try
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            mask = await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == maskId && i.Kind == StoredImageKind.Mask, cancellationToken);
            // A vary's source is an output, never larger than the engine makes; a bigger painted mask is not encoded to find that out.
            if (mask is null || (long)mask.Width * mask.Height > limits.MaxPixels || inFlight.ContainsKey(maskId)
                || mask.Sha256 != Encoded(mask.Width, mask.Height).Sha256)
            {
                return;
            }

            var stillUsed = await db.Jobs.AnyAsync(
                j => j.Settings.MaskImageId == maskId && (j.OutputImageId != null || j.State == JobState.Queued || j.State == JobState.Running),
                cancellationToken);
            if (stillUsed || await db.Images.Where(i => i.Id == maskId).ExecuteDeleteAsync(cancellationToken) == 0)
            {
                return;
            }
        }
        finally
        {
            creating.Release();
        }

        try
        {
            File.Delete(store.FullPath(mask.RelativePath));
            LogReleased(logger, maskId, mask.OwnerId);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            LogFileNotDeleted(logger, ex, maskId, mask.RelativePath);
        }
    }

    public void Dispose() => creating.Dispose();

    // Under the lock, so a release sees either the lease or the job that the lease was for.
    private WholeMaskLease Lease(Guid maskId)
    {
        inFlight.AddOrUpdate(maskId, 1, (_, count) => count + 1);
        return new WholeMaskLease(maskId, () =>
        {
            if (inFlight.AddOrUpdate(maskId, 0, (_, count) => count - 1) <= 0)
            {
                inFlight.TryRemove(new KeyValuePair<Guid, int>(maskId, 0));
            }
        });
    }

    private (byte[] Png, string Sha256) Encoded(int width, int height) => encoded.GetOrAdd((width, height), static size =>
    {
        using var mask = new Image<L8>(size.Width, size.Height, new L8(255));
        using var output = new MemoryStream();
        mask.SaveAsPng(output, GreyPng);
        var png = output.ToArray();
        return (png, Convert.ToHexStringLower(SHA256.HashData(png)));
    });

    [LoggerMessage(Level = LogLevel.Information, Message = "Whole-image mask {MaskId} of {OwnerId} removed: no image made with it is left")]
    private static partial void LogReleased(ILogger logger, Guid maskId, string ownerId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Whole-image mask {MaskId} was removed but its file {Path} could not be deleted")]
    private static partial void LogFileNotDeleted(ILogger logger, Exception exception, Guid maskId, string path);
}

/// <summary>A whole mask handed to one submission: while it is held the mask is not released.</summary>
public sealed class WholeMaskLease(Guid id, Action returned) : IDisposable
{
    private int disposed;

    public Guid Id { get; } = id;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 0)
        {
            returned();
        }
    }
}
