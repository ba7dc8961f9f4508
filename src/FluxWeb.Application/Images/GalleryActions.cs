using System.Globalization;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Images;

public enum GalleryActionOutcome
{
    Done,

    /// <summary>No such image, or not the caller's to change (the two look the same).</summary>
    NotFound,

    /// <summary>The account's licence type does not allow it: a commercial account and a non-commercial model's output.</summary>
    LicenceRefused,

    /// <summary>A waiting or running job still needs the image as an input.</summary>
    InUse,
}

public sealed record GalleryActionResult(GalleryActionOutcome Outcome, string? Reason = null)
{
    public static GalleryActionResult Done { get; } = new(GalleryActionOutcome.Done);

    public static GalleryActionResult NotFound { get; } = new(GalleryActionOutcome.NotFound);
}

/// <summary>
/// The gallery's changes, shared by the Blazor pages and the HTTP API so both doors apply the same
/// rules. A favourite is the owner's own mark (administrators cannot set it on someone else's
/// image); deleting is for the owner or an administrator. A commercial account may not touch a
/// non-commercial model's outputs at all: they are kept, for administrators, not given back.
/// </summary>
public sealed partial class GalleryActions(
    IDbContextFactory<FluxWebDbContext> contexts,
    ImageStore images,
    LicenceGate licences,
    AuditLog audit,
    WholeImageMasks wholeMasks,
    ILogger<GalleryActions> logger)
{
    public async Task<GalleryActionResult> SetFavouriteAsync(JobActor actor, Guid imageId, bool favourite, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var image = await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == imageId && i.OwnerId == actor.UserId, cancellationToken);
        if (image is null)
        {
            return GalleryActionResult.NotFound;
        }

        if (await licences.MayReceiveAsync(actor.UserId, actor.IsAdmin, image, LicencedAction.View, cancellationToken) is { Allowed: false } refused)
        {
            return new GalleryActionResult(GalleryActionOutcome.LicenceRefused, refused.Reason);
        }

        await db.Images.Where(i => i.Id == imageId).ExecuteUpdateAsync(set => set.SetProperty(i => i.Favourite, favourite), cancellationToken);
        return GalleryActionResult.Done;
    }

    /// <summary>
    /// Deletes the image's row and its files (original and thumbnail), with the whole-image mask of a vary
    /// when no other image was made with it (<see cref="WholeImageMasks"/>), and records it in the audit
    /// log. The job that made it keeps its row with the output cleared: the job is the record of
    /// the prompt, the parameters and the GPU time spent (prompt history and usage read it), and
    /// quotas are counted in their own ledger, so deleting gives no quota back.
    /// </summary>
    public async Task<GalleryActionResult> DeleteAsync(JobActor actor, Guid imageId, string channel, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var image = await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == imageId, cancellationToken);
        if (image is null || !actor.MayAccess(image.OwnerId))
        {
            return GalleryActionResult.NotFound;
        }

        if (await licences.MayReceiveAsync(actor.UserId, actor.IsAdmin, image, LicencedAction.View, cancellationToken) is { Allowed: false } refused)
        {
            return new GalleryActionResult(GalleryActionOutcome.LicenceRefused, refused.Reason);
        }

        var inUse = await db.Jobs.AnyAsync(
            j => (j.State == JobState.Queued || j.State == JobState.Running)
                && (j.Settings.SourceImageId == imageId || j.Settings.MaskImageId == imageId || j.Settings.ReferenceImageIds.Contains(imageId)),
            cancellationToken);
        if (inUse)
        {
            return new GalleryActionResult(GalleryActionOutcome.InUse, "A job that is still waiting or running uses this image as an input. Cancel it or wait until it ends, then delete the image.");
        }

        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            var deleted = await db.Images.Where(i => i.Id == imageId).ExecuteDeleteAsync(cancellationToken);
            if (deleted == 0)
            {
                // Someone else deleted it a moment ago.
                return GalleryActionResult.NotFound;
            }

            await db.Jobs.Where(j => j.OutputImageId == imageId).ExecuteUpdateAsync(set => set.SetProperty(j => j.OutputImageId, (Guid?)null), cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        // The files go after the row: a reader never finds a row without its file. A file that
        // cannot be removed is logged and left; nothing points at it any more.
        images.DeleteStoredFiles(image.RelativePath);
        // A vary's shared whole-image mask goes with the last image made with it.
        if (image.JobId is { } jobId
            && await db.Jobs.AsNoTracking().Where(j => j.Id == jobId).Select(j => j.Settings.MaskImageId).SingleOrDefaultAsync(CancellationToken.None) is { } maskId)
        {
            await wholeMasks.ReleaseIfUnusedAsync(maskId, CancellationToken.None);
        }

        LogDeleted(logger, imageId, actor.UserId, image.OwnerId);
        await audit.RecordAsync(
            new AuditEntry(AuditActions.Delete, actor.UserId)
            {
                ImageId = imageId,
                JobId = image.JobId,
                ModelId = image.ModelId,
                TargetUserId = image.OwnerId,
                Channel = channel,
                // Kept so a copy found later can still be traced: the watermark serial and the hash name this file.
                Detail = string.Create(CultureInfo.InvariantCulture, $"Deleted {image.Kind.ToString().ToLowerInvariant()} image; watermark serial {image.WatermarkSerial?.ToString(CultureInfo.InvariantCulture) ?? "none"}, SHA-256 {image.Sha256}."),
            },
            CancellationToken.None);
        return GalleryActionResult.Done;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Image {ImageId} of {OwnerId} deleted by {UserId}")]
    private static partial void LogDeleted(ILogger logger, Guid imageId, string userId, string ownerId);
}
