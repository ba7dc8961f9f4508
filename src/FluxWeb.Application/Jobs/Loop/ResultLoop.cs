using System.Globalization;
using FluxWeb.Application.Images;
using FluxWeb.Application.Quotas;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Images;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Application.Jobs.Loop;

/// <summary>The ways to go on from a finished image (the Studio's results, the gallery's detail).</summary>
public enum LoopAction
{
    /// <summary>The image as the source of an img2img pass at <see cref="ResultLoop.SubtleStrength"/>, with a fresh seed.</summary>
    VarySubtle,

    /// <summary>The same at <see cref="ResultLoop.StrongStrength"/>.</summary>
    VaryStrong,

    /// <summary>Exactly its settings again with the seeds that follow its own.</summary>
    MoreLikeThis,

    /// <summary>Through the model at twice the size, the image as its only reference (ADR 0017).</summary>
    UpscaleTwice,
}

/// <summary>
/// What an action asks for, before the ids that only exist once stored: a vary's whole-image mask (shared per
/// owner and size, <see cref="WholeImageMasks"/>) is added by <see cref="ResultLoop.SubmitAsync"/>. <see cref="Problem"/> says why the action cannot be
/// asked for at all (an upscale beyond the size limits), with nothing queued.
/// </summary>
public sealed record LoopPlan(GenerationSettings? Settings, string? Problem)
{
    public bool NeedsWholeMask => Settings is { SourceImageId: not null, MaskImageId: null };
}

/// <summary>
/// The loop on a finished image: vary (subtle or strong), more like this, upscale ×2. Each action is
/// derived from what the image was made with (<see cref="JobSettingsReader"/>: resolved size and steps,
/// the image's own seed) and submitted through <see cref="GenerationService.SubmitAsync"/> like any
/// request: admission checks the model, the licence of every input (the image itself included, through
/// <see cref="ImageAccess"/>), the prompt filter and the quota. There is no side door.
/// </summary>
public sealed class ResultLoop(
    JobSettingsReader settingsReader,
    ImageAccess access,
    WholeImageMasks wholeMasks,
    ImageStore store,
    GenerationService generation,
    QuotaService quotas,
    GenerationLimits limits,
    IDbContextFactory<FluxWebDbContext> contexts)
{
    /// <summary>Keeps composition and colours, changes details (diffusers' img2img examples sit around 0.3–0.4).</summary>
    public const float SubtleStrength = 0.35f;

    /// <summary>Keeps the layout's broad strokes, repaints most of what is in it.</summary>
    public const float StrongStrength = 0.7f;

    /// <summary>How far "more like this" looks for seeds already used with the same settings.</summary>
    private const int SeedLookAhead = 1024;

    private static readonly PngEncoder GreyPng = new() { ColorType = PngColorType.Grayscale, BitDepth = PngBitDepth.Bit8 };

    /// <summary>
    /// The settings for <paramref name="action"/> on the image <paramref name="imageId"/> (<paramref name="width"/> ×
    /// <paramref name="height"/>) made with <paramref name="made"/>; pure, so the rules can be read and tested here.
    /// </summary>
    public static LoopPlan Plan(LoopAction action, Guid imageId, GenerationSettings made, int width, int height, GenerationLimits limits, ulong? nextSeed = null)
    {
        switch (action)
        {
            case LoopAction.VarySubtle:
            case LoopAction.VaryStrong:
                // A masked edit whose mask covers everything is img2img: the engine renoises the whole source
                // to the strength's point of the schedule. The source keeps its size; its references are in it already.
                return new LoopPlan(made with
                {
                    Seed = null,
                    Width = null,
                    Height = null,
                    ReferenceImageIds = [],
                    SourceImageId = imageId,
                    MaskImageId = null,
                    Strength = action == LoopAction.VarySubtle ? SubtleStrength : StrongStrength,
                    Feather = false,
                }, null);
            case LoopAction.MoreLikeThis:
                return new LoopPlan(made with { Seed = nextSeed ?? unchecked((made.Seed ?? 0) + 1) }, null);
            case LoopAction.UpscaleTwice:
                var (wide, high) = ((long)width * 2, (long)height * 2);
                if (wide > int.MaxValue || high > int.MaxValue || limits.CheckSize((int)wide, (int)high) is { Fits: false } size)
                {
                    return new LoopPlan(null, string.Create(
                        CultureInfo.InvariantCulture,
                        $"Twice {width}×{height} is {wide}×{high}, more than this server makes: at most {limits.LargestSide} px a side and {limits.MaxPixels / 1e6:0.#} megapixels. Upscale a smaller picture, or ask an administrator to raise Inference:MaxSide and Inference:MaxPixels."));
                }

                // Through the model: the picture as the only reference at twice its size, its own prompt, seed
                // and steps. The engine scales the reference to its pixel budget; the detail comes from the model.
                return new LoopPlan(made with
                {
                    Width = (int)wide,
                    Height = (int)high,
                    ReferenceImageIds = [imageId],
                    SourceImageId = null,
                    MaskImageId = null,
                    Strength = 1f,
                    Feather = false,
                }, null);
            default:
                throw new ArgumentOutOfRangeException(nameof(action), action, "Not a loop action.");
        }
    }

    /// <summary>
    /// The settings of an extension of an image made with <paramref name="made"/>, before its canvas and mask are stored:
    /// a masked edit of the canvas that paints the margins from pure noise (strength 1) with a fresh seed, feathered into
    /// the picture, with <paramref name="prompt"/> when one is given (what the new area should show), else the image's own.
    /// The canvas holds the picture, so its references are not asked again.
    /// </summary>
    public static GenerationSettings PlanExtension(GenerationSettings made, string? prompt) => made with
    {
        Prompt = string.IsNullOrWhiteSpace(prompt) ? made.Prompt : prompt.Trim(),
        Seed = null,
        Width = null,
        Height = null,
        ReferenceImageIds = [],
        SourceImageId = null,
        MaskImageId = null,
        Strength = 1f,
        Feather = true,
    };

    /// <summary>
    /// The first of <paramref name="count"/> seeds after <paramref name="seed"/> none of which was used before: "more like
    /// this" on the first image of a batch of four continues after the fourth, not with its siblings again.
    /// </summary>
    public static ulong NextFreeSeed(ulong seed, int count, IReadOnlySet<ulong> used)
    {
        var start = unchecked(seed + 1);
        for (var tries = 0; tries < SeedLookAhead; tries++)
        {
            var clashes = Enumerable.Range(0, count).Select(i => unchecked(start + (ulong)i)).Where(used.Contains).ToList();
            if (clashes.Count == 0)
            {
                return start;
            }

            start = unchecked(clashes[^1] + 1);
        }

        return start;
    }

    /// <summary>
    /// Derives the request for <paramref name="action"/> on one of <paramref name="actor"/>'s images and submits it. A refusal
    /// is the submission's own kind: not found is <see cref="SubmitResult.Unknown"/>, too large <see cref="SubmitResult.Invalid"/>, the licence's is
    /// <see cref="SubmitResult.LicenceRefused"/>, the quota's carries its <see cref="SubmitResult.Refusal"/>.
    /// </summary>
    public async Task<SubmitResult> SubmitAsync(JobActor actor, Guid imageId, LoopAction action, int count = 1, string channel = "ui", CancellationToken cancellationToken = default)
    {
        var found = await settingsReader.ForImageAsync(actor, imageId, cancellationToken);
        if (found.LicenceRefusal is { } refusal)
        {
            return await RefuseAsync(actor, SubmitResult.RefusedByLicence(refusal), cancellationToken);
        }

        if (found.Settings is not { } made)
        {
            return await RefuseAsync(actor, SubmitResult.Unknown("That image was not found, or it was not generated here."), cancellationToken);
        }

        // Vary and upscale use the picture itself: it must be this account's own and allowed as input now.
        ImageAccessResult? input = null;
        if (action != LoopAction.MoreLikeThis)
        {
            input = await access.InputAsync(actor.UserId, imageId, action == LoopAction.UpscaleTwice ? InputRole.Reference : InputRole.Source, cancellationToken);
            if (input.Outcome == ImageAccessOutcome.LicenceRefused)
            {
                return await RefuseAsync(actor, SubmitResult.RefusedByLicence(input.Reason ?? "The licence of the model that made it does not allow it as input for this account."), cancellationToken);
            }

            if (!input.Allowed)
            {
                return await RefuseAsync(actor, SubmitResult.Invalid("Only your own pictures can be varied or upscaled: use “Use as reference” on a shared one."), cancellationToken);
            }
        }

        var (width, height) = input?.Image is { } row ? (row.Width, row.Height) : (made.Settings.Width ?? 0, made.Settings.Height ?? 0);
        var nextSeed = action == LoopAction.MoreLikeThis && made.Settings.Seed is { } seed
            ? NextFreeSeed(seed, Math.Max(1, count), await SeedsUsedAfterAsync(actor.UserId, made.Settings, cancellationToken))
            : (ulong?)null;
        var plan = Plan(action, imageId, made.Settings, width, height, limits, nextSeed);
        if (plan.Problem is { } problem)
        {
            return await RefuseAsync(actor, SubmitResult.Invalid(problem), cancellationToken);
        }

        var settings = plan.Settings!;
        // A vary shares its owner's whole mask of this size (held until the job is recorded, so it is not released meanwhile).
        var mask = plan.NeedsWholeMask ? await wholeMasks.RentAsync(actor.UserId, width, height, cancellationToken) : null;
        SubmitResult submitted;
        using (mask)
        {
            submitted = await generation.SubmitAsync(actor.UserId, new JobRequest { Settings = settings with { MaskImageId = mask?.Id ?? settings.MaskImageId }, Count = count, Channel = channel }, cancellationToken);
        }

        // A refused vary (the quota, the prompt filter) leaves no mask that nothing uses.
        if (mask is not null && !submitted.Accepted)
        {
            await wholeMasks.ReleaseIfUnusedAsync(mask.Id, CancellationToken.None);
        }

        return submitted;
    }

    /// <summary>
    /// Extends one of <paramref name="actor"/>'s images by <paramref name="margins"/> (outpainting, ADR 0031): stores the
    /// larger canvas (carrying the image's licence) and its mask as the person's inputs, then submits the masked edit of
    /// <see cref="PlanExtension"/> through the one door. Refusals are the submission's own kinds, as for
    /// <see cref="SubmitAsync"/>; a refused extension leaves neither canvas nor mask behind.
    /// </summary>
    public async Task<SubmitResult> ExtendAsync(JobActor actor, Guid imageId, CanvasMargins margins, string? prompt = null, string channel = "ui", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(margins);
        var found = await settingsReader.ForImageAsync(actor, imageId, cancellationToken);
        if (found.LicenceRefusal is { } refusal)
        {
            return await RefuseAsync(actor, SubmitResult.RefusedByLicence(refusal), cancellationToken);
        }

        if (found.Settings is not { } made)
        {
            return await RefuseAsync(actor, SubmitResult.Unknown("That image was not found, or it was not generated here."), cancellationToken);
        }

        var input = await access.InputAsync(actor.UserId, imageId, InputRole.Source, cancellationToken);
        if (input.Outcome == ImageAccessOutcome.LicenceRefused)
        {
            return await RefuseAsync(actor, SubmitResult.RefusedByLicence(input.Reason ?? "The licence of the model that made it does not allow it as input for this account."), cancellationToken);
        }

        if (!input.Allowed)
        {
            return await RefuseAsync(actor, SubmitResult.Invalid("Only your own pictures can be extended: use “Use as reference” on a shared one."), cancellationToken);
        }

        var original = input.Image!;
        if (margins.Problem(original.Width, original.Height, limits) is { } problem)
        {
            return await RefuseAsync(actor, SubmitResult.Invalid(problem), cancellationToken);
        }

        if (GenerationLimits.PromptProblem(prompt ?? "") is { } promptProblem)
        {
            return await RefuseAsync(actor, SubmitResult.Invalid(promptProblem), cancellationToken);
        }

        // Decoding, blurring and encoding a canvas of up to the pixel limit is CPU work of a few hundred milliseconds: off
        // the caller's thread, which for the Studio is the circuit's.
        var (canvas, mask) = await Task.Run(() => StoreExtensionInputsAsync(actor, input, margins, cancellationToken), cancellationToken);

        var submitted = SubmitResult.Invalid("The extension was not submitted.");
        try
        {
            var settings = PlanExtension(made.Settings, prompt) with { SourceImageId = canvas.Id, MaskImageId = mask.Id };
            submitted = await generation.SubmitAsync(actor.UserId, new JobRequest { Settings = settings, Count = 1, Channel = channel }, cancellationToken);
            return submitted;
        }
        finally
        {
            // A refused extension (the quota, the prompt filter) leaves no canvas or mask that nothing uses.
            if (!submitted.Accepted)
            {
                await store.DiscardUnusedInputsAsync([canvas.Id, mask.Id], CancellationToken.None);
            }
        }
    }

    /// <summary>Builds the extension's canvas and mask from the image and stores both as the person's inputs (neither when one fails).</summary>
    private async Task<(StoredImage Canvas, StoredImage Mask)> StoreExtensionInputsAsync(JobActor actor, ImageAccessResult input, CanvasMargins margins, CancellationToken cancellationToken)
    {
        using var picture = await ImageAccess.LoadAsync<Rgb24>(input, cancellationToken);
        using var extended = CanvasExtension.Compose(picture, margins);
        var canvas = await store.SaveDerivedPictureAsync(input.Image!, extended.Canvas, cancellationToken);
        try
        {
            using var png = new MemoryStream();
            await extended.Mask.SaveAsPngAsync(png, GreyPng, cancellationToken);
            return (canvas, await store.SaveMaskAsync(actor.UserId, png.ToArray(), extended.Mask.Width, extended.Mask.Height, cancellationToken));
        }
        catch
        {
            await store.DiscardUnusedInputsAsync([canvas.Id], CancellationToken.None);
            throw;
        }
    }

    /// <summary>A refusal before submission counts like one at submission ("rejected requests" on the usage view).</summary>
    private async Task<SubmitResult> RefuseAsync(JobActor actor, SubmitResult refused, CancellationToken cancellationToken)
    {
        await quotas.CountRejectionAsync(actor.UserId, CancellationToken.None);
        return refused;
    }

    /// <summary>Seeds this person already used with the same prompt, model and size just after <paramref name="made"/>'s own.</summary>
    private async Task<IReadOnlySet<ulong>> SeedsUsedAfterAsync(string ownerId, GenerationSettings made, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var seeds = await db.Jobs.AsNoTracking()
            .Where(j => j.OwnerId == ownerId && j.Settings.ModelId == made.ModelId && j.Settings.Prompt == made.Prompt
                && j.ResolvedWidth == made.Width && j.ResolvedHeight == made.Height)
            .Select(j => j.Settings.Seed)
            .ToListAsync(cancellationToken);
        var first = made.Seed ?? 0;
        return seeds.Where(s => s is { } value && unchecked(value - first) is > 0 and <= SeedLookAhead * 8).Select(s => s!.Value).ToHashSet();
    }
}
