using System.Globalization;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Jobs.Loop;
using FluxWeb.Domain.Generation;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using MudBlazor;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// The loop's buttons on one circuit (a scoped service, beside <see cref="StudioSession"/>): vary, more like this
/// and upscale on a finished image, from the Studio's results, the lightbox or the gallery's detail. It only asks
/// <see cref="ResultLoop"/>, which submits through the one door; a refusal is said where the click was (a
/// snackbar) and, while the Studio is open, also as its notice. The new images arrive in the Studio's results
/// like any others.
/// </summary>
public sealed class StudioLoop(
    StudioSession session,
    ResultLoop loop,
    GenerationLimits limits,
    AuthenticationStateProvider authentication,
    NavigationManager navigation,
    ISnackbar snackbar)
{
    /// <summary>Whether a loop action is being submitted (its buttons wait).</summary>
    public bool Busy { get; private set; }

    public GenerationLimits Limits => limits;

    /// <summary>How many images "more like this" makes: the Studio form's image count.</summary>
    public int MoreCount => Math.Clamp(session.Form.Count ?? 1, 1, limits.MaxBatch);

    /// <summary>Why ×2 of a <paramref name="width"/> × <paramref name="height"/> picture cannot be made here; null when it can.</summary>
    public string? UpscaleProblem(int width, int height) => width <= 0 || height <= 0 ? null
        : ResultLoop.Plan(LoopAction.UpscaleTwice, Guid.Empty, new GenerationSettings { ModelId = "", Prompt = "" }, width, height, limits).Problem;

    public static string Describe(LoopAction action) => action switch
    {
        LoopAction.VarySubtle => "subtle variation",
        LoopAction.VaryStrong => "strong variation",
        LoopAction.MoreLikeThis => "more like this",
        _ => "upscale ×2",
    };

    /// <summary>Why these margins cannot extend a <paramref name="width"/> × <paramref name="height"/> picture here; null when they can.</summary>
    public string? ExtendProblem(int width, int height, CanvasMargins margins) => margins.Problem(width, height, limits);

    /// <summary>
    /// Submits an extension of the image (outpainting): null when it was queued, else the refusal's words for the dialog,
    /// which stays open with them so nothing typed is lost.
    /// </summary>
    public async Task<string?> ExtendAsync(Guid imageId, CanvasMargins margins, string? prompt)
    {
        if (Busy)
        {
            return "Another action on this image is being submitted; try again in a moment.";
        }

        var actor = session.Actor ?? JobActor.From((await authentication.GetAuthenticationStateAsync()).User);
        if (actor is null)
        {
            return "You are signed out; sign in again to extend the picture.";
        }

        Busy = true;
        try
        {
            SubmitResult result;
            try
            {
                result = await loop.ExtendAsync(actor, imageId, margins, prompt, "ui");
            }
            catch (ImageStorageException notStored)
            {
                return notStored.Message;
            }

            if (!result.Accepted)
            {
                return result switch
                {
                    { Refusal: { } quota } => $"Quota reached. {quota.Message}",
                    { LicenceRefused: true } => $"Not allowed by the licence. {result.Error}",
                    _ => result.Error,
                };
            }

            Announce("Queued an extension.");
            return null;
        }
        finally
        {
            Busy = false;
        }
    }

    /// <summary>Submits <paramref name="action"/> on the image; true when jobs were queued.</summary>
    public async Task<bool> RunAsync(Guid imageId, LoopAction action)
    {
        if (Busy)
        {
            return false;
        }

        var actor = session.Actor ?? JobActor.From((await authentication.GetAuthenticationStateAsync()).User);
        if (actor is null)
        {
            return false;
        }

        Busy = true;
        try
        {
            var count = action == LoopAction.MoreLikeThis ? MoreCount : 1;
            var result = await loop.SubmitAsync(actor, imageId, action, count, "ui");
            if (!result.Accepted)
            {
                var notice = result switch
                {
                    { Refusal: { } quota } => new StudioNotice(Severity.Warning, "Quota reached.", quota.Message, "quota"),
                    { LicenceRefused: true } => new StudioNotice(Severity.Error, "Not allowed by the licence.", result.Error!, "licence"),
                    _ => new StudioNotice(Severity.Warning, $"No {Describe(action)}:", result.Error!, "refused"),
                };
                if (session.IsShowing)
                {
                    await session.ShowNoticeAsync(notice);
                }

                snackbar.Add($"{notice.Title} {notice.Message}", notice.Severity, config => config.RequireInteraction = true);
                return false;
            }

            Announce(result.JobIds.Count == 1
                ? action switch
                {
                    LoopAction.MoreLikeThis => "Queued one more like this.",
                    LoopAction.UpscaleTwice => "Queued an upscale ×2.",
                    _ => $"Queued a {Describe(action)}.",
                }
                : string.Create(CultureInfo.InvariantCulture, $"Queued {result.JobIds.Count} images: {Describe(action)} (seeds {result.Seed}–{unchecked(result.Seed + (ulong)(result.JobIds.Count - 1))})."));
            return true;
        }
        finally
        {
            Busy = false;
        }
    }

    /// <summary>Says an action was queued; from the gallery, with the way to the Studio, where the new image arrives.</summary>
    private void Announce(string queued) => snackbar.Add(queued, Severity.Success, config =>
    {
        if (!session.IsShowing)
        {
            config.Action = "Open the Studio";
            config.OnClick = _ =>
            {
                navigation.NavigateTo(navigation.Rooted("studio"));
                return Task.CompletedTask;
            };
        }
    });
}
