using FluxWeb.Application.Audit;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Images;

namespace FluxWeb.Application.Boards;

/// <summary>What "use as reference" on a shared image gave: an image of the caller's to use, or why not.</summary>
public sealed record ReuseResult(ImageAccessOutcome Outcome, Guid? ImageId = null, string? Reason = null)
{
    public bool Allowed => Outcome == ImageAccessOutcome.Allowed;
}

/// <summary>
/// "Use as reference" on a teammate's image copies it into the caller's own uploads (ADR 0016): the original
/// stays the owner's, and the copy is the caller's input from then on, checked at submission and in the
/// worker like any upload of theirs, so an unshare later cannot pull an input from under a queued job, and
/// no job input ever points at another account's image. The copy passes the door twice: the image door
/// (shared with the caller now, and the licence for use as input, administrators included), then the upload
/// checks (hardened decoder, safety screen, and the watermark's licence trace of <see cref="UploadLicenceCheck"/>).
/// </summary>
public sealed class SharedImageReuse(ImageAccess access, ImageStore store, AuditLog audit)
{
    private static readonly IReadOnlySet<StoredImageKind> OutputsOnly = new HashSet<StoredImageKind> { StoredImageKind.Output };

    public async Task<ReuseResult> CopyAsReferenceAsync(JobActor actor, Guid imageId, string channel, CancellationToken cancellationToken = default)
    {
        // Reuse is for one's own images and what is shared with one: an administrator's view of everything is not a licence to reuse it.
        var member = actor with { IsAdmin = false };
        var read = await access.OpenAsync(member, imageId, new ImageRead(LicencedAction.UseAsReference, channel) { Kinds = OutputsOnly }, cancellationToken);
        if (!read.Allowed)
        {
            return new ReuseResult(read.Outcome, Reason: read.Reason);
        }

        var original = read.File.Image;
        if (original.OwnerId == actor.UserId)
        {
            return new ReuseResult(ImageAccessOutcome.Allowed, original.Id);
        }

        StoredImage copy;
        try
        {
            await using var file = new FileStream(read.File.FullPath, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 64 * 1024, useAsync: true);
            copy = await store.SaveUploadAsync(actor.UserId, file, $"{original.Id:N}.png", screen: true, StoredImageKind.Upload, channel, cancellationToken);
        }
        catch (InvalidImageException ex)
        {
            return new ReuseResult(ex.StatusCode == InvalidImageException.LicenceRefused ? ImageAccessOutcome.LicenceRefused : ImageAccessOutcome.WrongKind, Reason: ex.Message);
        }
        catch (FileNotFoundException)
        {
            // Deleted by its owner a moment ago.
            return new ReuseResult(ImageAccessOutcome.NotFound);
        }

        await audit.RecordAsync(new AuditEntry(AuditActions.Reuse, actor.UserId)
        {
            ImageId = original.Id,
            ModelId = original.ModelId,
            TargetUserId = original.OwnerId,
            Detail = $"Copied the shared image into own uploads as {copy.Id} to use as a reference.",
            Channel = channel,
        }, CancellationToken.None);
        return new ReuseResult(ImageAccessOutcome.Allowed, copy.Id);
    }
}
