using FluxWeb.Application.Audit;
using FluxWeb.Application.Boards;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Inference.Packages;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Application.Images;

public enum ImageAccessOutcome
{
    Allowed,

    /// <summary>No such image, not the caller's, not of a kind this door serves, or its file is gone (all look the same).</summary>
    NotFound,

    /// <summary>The caller's account may not receive what the model that made it produced.</summary>
    LicenceRefused,

    /// <summary>An input of the wrong kind: an output or picture given as a mask, a mask given as a picture.</summary>
    WrongKind,
}

/// <summary>The answer of <see cref="ImageAccess"/>: the image and its file when allowed, otherwise why not.</summary>
public sealed record ImageAccessResult(ImageAccessOutcome Outcome, StoredImage? Image = null, string? FullPath = null, string? Reason = null)
{
    public static ImageAccessResult NotFound { get; } = new(ImageAccessOutcome.NotFound);

    public bool Allowed => Outcome == ImageAccessOutcome.Allowed;

    /// <summary>The file to serve; only for an allowed result.</summary>
    public ImageFile File => Allowed ? new ImageFile(Image!, FullPath!) : throw new InvalidOperationException($"The image was not allowed ({Outcome}).");
}

/// <summary>What a door does with an image it serves: the licence's name for it, which kinds it serves and to whom.</summary>
public sealed record ImageRead(LicencedAction Action, string Channel)
{
    public static IReadOnlySet<StoredImageKind> AnyKind { get; } = new HashSet<StoredImageKind>(Enum.GetValues<StoredImageKind>());

    public IReadOnlySet<StoredImageKind> Kinds { get; init; } = AnyKind;

    /// <summary>Only the owner, administrators included (masks are their painter's); shares do not reach it either.</summary>
    public bool OwnerOnly { get; init; }

    /// <summary>
    /// Whether a licence refusal is recorded in the audit log. False only where this request's refusal of this image
    /// was recorded already (a ZIP checked when prepared and again when fetched is one attempt, not two).
    /// </summary>
    public bool AuditRefusal { get; init; } = true;
}

/// <summary>The roles an image plays in a job, each with the kinds it may be.</summary>
public enum InputRole
{
    Reference,
    Source,
    Mask,
}

/// <summary>
/// The one licence-checked path to stored images and to what they and their jobs carry. Every door
/// that hands out image bytes (the image, thumbnail and mask routes, previews), image-derived data
/// (job views, job events, "use these settings") or takes an image as input (references, sources,
/// masks; at submission and again in the worker) asks here, so ownership, the image's kind and the
/// licence policy are applied the same way everywhere, with the account type as it is now.
/// "May this actor read this image" is: the owner, or an output shared with the actor (directly, with
/// the team, or on a board they may open: <see cref="ShareQueries"/>, read now, so an unshare ends it at
/// the next request), or an administrator signed in with the cookie (an API key carries no role); then
/// the licence, then the kind. Administrators are not refused what they view, but reusing an image as
/// input is never exempt: the output lands in their own account.
/// </summary>
public sealed class ImageAccess(
    IDbContextFactory<FluxWebDbContext> contexts,
    ImageStore store,
    LicenceGate licences,
    ModelCatalog catalog,
    AuditLog audit)
{
    /// <summary>One image for a reader: the row and file, or not found, or refused (audited).</summary>
    public async Task<ImageAccessResult> OpenAsync(JobActor viewer, Guid imageId, ImageRead read, CancellationToken cancellationToken = default)
    {
        var image = await store.RowAsync(imageId, cancellationToken);
        var reachable = image is not null
            && read.Kinds.Contains(image.Kind)
            && (read.OwnerOnly ? string.Equals(image.OwnerId, viewer.UserId, StringComparison.Ordinal) : await MayReadAsync(viewer, image, cancellationToken));
        if (!reachable)
        {
            return ImageAccessResult.NotFound;
        }

        if (await DecideAsync(viewer, image!, read.Action, cancellationToken) is { Allowed: false } refused)
        {
            if (!read.AuditRefusal)
            {
                return new ImageAccessResult(ImageAccessOutcome.LicenceRefused, Reason: refused.Reason);
            }

            await audit.RecordAsync(new AuditEntry(AuditActions.LicenceRefused, viewer.UserId)
            {
                Succeeded = false,
                ImageId = imageId,
                ModelId = image!.ModelId,
                Detail = refused.Reason,
                Channel = read.Channel,
            }, CancellationToken.None);
            return new ImageAccessResult(ImageAccessOutcome.LicenceRefused, Reason: refused.Reason);
        }

        return store.ExistingFile(image!) is { } path ? new ImageAccessResult(ImageAccessOutcome.Allowed, image, path) : ImageAccessResult.NotFound;
    }

    /// <summary>
    /// Whether <paramref name="viewer"/> may reach <paramref name="image"/> at all (before the licence): their own, an
    /// administrator's (cookie), or shared with them now. Anything else must answer like an unknown id.
    /// </summary>
    public async Task<bool> MayReadAsync(JobActor viewer, StoredImage image, CancellationToken cancellationToken = default)
    {
        if (viewer.MayAccess(image.OwnerId))
        {
            return true;
        }

        if (image.Kind != StoredImageKind.Output)
        {
            return false;
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Images.Where(i => i.Id == image.Id).SharedWith(db, viewer.UserId).AnyAsync(cancellationToken);
    }

    /// <summary>Whether <paramref name="viewer"/> may have <paramref name="image"/> (a row the caller already holds and may otherwise see) for <paramref name="action"/>.</summary>
    public async Task<LicenceDecision> DecideAsync(JobActor viewer, StoredImage image, LicencedAction action, CancellationToken cancellationToken = default) =>
        LicenceGate.Facts(image) is { } facts && !Exempt(viewer, action)
            ? LicencePolicy.Decide(await licences.AccountTypeAsync(viewer.UserId, cancellationToken), facts, action)
            : LicenceDecision.Allow;

    /// <summary>
    /// One of the owner's images as a job input: their own, of the kind the role takes, and allowed as
    /// input under the account's licence. Checked at submission and again by the worker. Not audited
    /// here: the submission or the worker records its refusal once, with its channel.
    /// </summary>
    public async Task<ImageAccessResult> InputAsync(string ownerId, Guid imageId, InputRole role, CancellationToken cancellationToken = default)
    {
        var image = await store.RowAsync(imageId, cancellationToken);
        if (image is null || !string.Equals(image.OwnerId, ownerId, StringComparison.Ordinal))
        {
            return ImageAccessResult.NotFound;
        }

        var owner = new JobActor(ownerId, IsAdmin: false);
        if (await DecideAsync(owner, image, LicencedAction.UseAsReference, cancellationToken) is { Allowed: false } refused)
        {
            return new ImageAccessResult(ImageAccessOutcome.LicenceRefused, Reason: refused.Reason);
        }

        if ((role == InputRole.Mask) != (image.Kind == StoredImageKind.Mask))
        {
            return new ImageAccessResult(ImageAccessOutcome.WrongKind, image, Reason: role == InputRole.Mask
                ? "That image is not a mask. Paint the mask in the mask editor, or upload it with POST /api/v1/uploads/masks, and use the id it answers."
                : "That image is a mask, not a picture. Use a picture you uploaded or generated.");
        }

        return store.ExistingFile(image) is { } path ? new ImageAccessResult(ImageAccessOutcome.Allowed, image, path) : ImageAccessResult.NotFound;
    }

    /// <summary>Decodes an allowed input for the engine.</summary>
    public static async Task<Image<TPixel>> LoadAsync<TPixel>(ImageAccessResult input, CancellationToken cancellationToken = default)
        where TPixel : unmanaged, IPixel<TPixel> =>
        await Image.LoadAsync<TPixel>(input.File.FullPath, cancellationToken);

    /// <summary>
    /// The licence facts of what a job produces: its stored output's (copied from the model when it
    /// was made), else the installed model's. A job whose model is no longer installed and that left
    /// no output counts as non-commercial: nothing says otherwise.
    /// </summary>
    public ModelLicenceFacts JobFacts(string modelId, StoredImage? output) =>
        (output is null ? null : LicenceGate.Facts(output))
        ?? (catalog.Find(modelId)?.Manifest is { } manifest ? LicenceGate.Facts(manifest) : new ModelLicenceFacts(modelId, "unknown", CommercialUseAllowed: false));

    /// <summary>
    /// Whether <paramref name="viewer"/> may receive what a job carries (its preview, output, seed and
    /// events): decided now, with the account type as it is in the database at this moment. A job that
    /// does not exist is refused.
    /// </summary>
    public async Task<LicenceDecision> JobAsync(JobActor viewer, Guid jobId, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var job = await db.Jobs.AsNoTracking().Where(j => j.Id == jobId)
            .Select(j => new { j.Settings.ModelId, j.OwnerId, Output = db.Images.FirstOrDefault(i => i.Id == j.OutputImageId) })
            .SingleOrDefaultAsync(cancellationToken);
        if (job is null)
        {
            return new LicenceDecision(false, "The job does not exist.");
        }

        return Exempt(viewer, LicencedAction.View)
            ? LicenceDecision.Allow
            : LicencePolicy.Decide(await licences.AccountTypeAsync(viewer.UserId, cancellationToken), JobFacts(job.ModelId, job.Output), LicencedAction.View);
    }

    /// <summary>Many jobs at once (a listing): the viewer's account type read once, then the same rule as <see cref="JobAsync"/>.</summary>
    public async Task<JobLicenceFilter> JobFilterAsync(JobActor viewer, CancellationToken cancellationToken = default)
    {
        var account = Exempt(viewer, LicencedAction.View) ? AccountType.NonCommercial : await licences.AccountTypeAsync(viewer.UserId, cancellationToken);
        var commercialModels = catalog.List().Where(m => m.Manifest?.AllowsCommercialUse == true).Select(m => m.Id).ToHashSet(StringComparer.Ordinal);
        return new JobLicenceFilter(this, account, commercialModels);
    }

    private static bool Exempt(JobActor viewer, LicencedAction action) => viewer.IsAdmin && action != LicencedAction.UseAsReference;
}

/// <summary>The licence rule for job-derived data, for one viewer, as a database filter and for single jobs.</summary>
public sealed class JobLicenceFilter
{
    private readonly ImageAccess access;
    private readonly AccountType account;
    private readonly IReadOnlySet<string> commercialModels;

    internal JobLicenceFilter(ImageAccess access, AccountType account, IReadOnlySet<string> commercialModels)
    {
        this.access = access;
        this.account = account;
        this.commercialModels = commercialModels;
    }

    /// <summary>Whether anything is left out for this viewer at all.</summary>
    public bool Hides => LicenceQueries.HidesNonCommercialOutputs(isAdmin: false, account);

    /// <summary><see cref="ImageAccess.JobFacts"/> as a query: jobs with a stored output by the output's licence, others by their installed model's.</summary>
    public IQueryable<Job> Apply(IQueryable<Job> jobs, FluxWebDbContext db)
    {
        if (!Hides)
        {
            return jobs;
        }

        var models = commercialModels.ToList();
        var images = db.Images;
        return jobs.Where(j => images.Any(i => i.Id == j.OutputImageId && i.Kind == StoredImageKind.Output && i.ModelId != null)
            ? images.Any(i => i.Id == j.OutputImageId && i.CommercialUse == true)
            : models.Contains(j.Settings.ModelId));
    }

    public bool MayReceive(Job job, StoredImage? output) =>
        LicencePolicy.Decide(account, access.JobFacts(job.Settings.ModelId, output), LicencedAction.View).Allowed;
}
