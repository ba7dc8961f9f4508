using System.Globalization;
using FluxWeb.Application.Boards;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Jobs;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using MudBlazor;

namespace FluxWeb.Host.Components.Pages.Gallery;

/// <summary>A change the detail view made, so the gallery behind it can follow without reloading.</summary>
public sealed record ImageChange(Guid ImageId, bool? Favourite, bool Deleted);

/// <summary>
/// One image with every parameter of the job that made it, its licence and timing, and the
/// actions. Used inside the gallery's dialog and on <c>/gallery/{id}</c>. The picture is a URL of
/// the authorised image endpoint; nothing but text crosses the circuit.
/// </summary>
public sealed partial class ImageDetailView
{
    private GalleryDetail? detail;
    private string? refusal;
    private bool loading = true;
    private bool busy;
    private JobActor? actor;
    private Guid loadedId;

    [Parameter, EditorRequired]
    public Guid ImageId { get; set; }

    /// <summary>The viewer's clock for the times shown (UTC until the browser has said).</summary>
    [Parameter]
    public TimeZoneInfo Zone { get; set; } = TimeZoneInfo.Utc;

    [Parameter]
    public EventCallback<ImageChange> OnChanged { get; set; }

    [Inject]
    private GalleryQuery Query { get; set; } = default!;

    [Inject]
    private GalleryActions Actions { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private BoardService BoardActions { get; set; } = default!;

    [Inject]
    private SharedImageReuse Reuse { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    private bool lightboxOpen;

    /// <summary>The image in the lightbox; an edit's source is its "before" when the viewer may still see it.</summary>
    private static Studio.LightboxItem LightboxFor(GalleryDetail detail)
    {
        var image = detail.Image;
        var facts = string.Create(CultureInfo.InvariantCulture, $"{image.Width}×{image.Height} · seed {image.Seed} · {image.ModelId}");
        var item = new Studio.LightboxItem(image.Id, image.ImageUrl, image.Width, image.Height, image.Prompt ?? "", facts);
        var settings = detail.Job?.Settings;
        var before = settings?.SourceImageId ?? (detail.Job?.Mode == JobMode.Edit && settings!.ReferenceImageIds.Count == 1 ? settings.ReferenceImageIds[0] : null);
        return before is { } id && detail.Inputs.Any(i => i.Id == id && i.Available)
            ? item with
            {
                BeforeUrl = JobUrls.Image(id),
                BeforeLabel = settings!.SourceImageId is null ? "Original" : "Source",
                SideBySide = settings.SourceImageId is null,
            }
            : item;
    }

    private bool IsOwner => detail is not null && actor is not null && detail.OwnerId == actor.UserId;

    protected override async Task OnParametersSetAsync()
    {
        if (ImageId == loadedId && !loading)
        {
            return;
        }

        loadedId = ImageId;
        loading = true;
        actor ??= AuthenticationState is null ? null : JobActor.From((await AuthenticationState).User);
        var result = actor is null ? GalleryDetailResult.NotFound : await Query.DetailAsync(actor, ImageId);
        (detail, refusal, loading) = (result.Detail, result.LicenceRefusal, false);
    }

    private IReadOnlyList<BoardSummary>? boards;

    private void Go(string url) => Navigation.NavigateTo(Navigation.Rooted(url));

    private async Task OnBoardMenuAsync(bool open)
    {
        if (open && actor is not null)
        {
            boards = [.. (await BoardActions.ListAsync(actor)).Where(b => b.MayContribute)];
        }
    }

    private async Task AddToBoardAsync(BoardSummary board)
    {
        var result = await BoardActions.AddImagesAsync(actor!, board.Id, [ImageId]);
        Snackbar.Add(
            result.Value is { Added.Count: > 0 } ? $"On the board “{board.Name}”." : result.Error ?? (result.Value is { Skipped.Count: > 0 } added ? added.Skipped[0].Reason : null) ?? "The board is gone.",
            result.Value is { Added.Count: > 0 } ? Severity.Success : Severity.Warning);
    }

    private async Task ShareAsync()
    {
        var parameters = new DialogParameters<FluxWeb.Host.Components.Pages.Boards.ShareDialog>
        {
            { d => d.Actor, actor! },
            { d => d.Target, ShareTarget.Image(ImageId) },
            { d => d.What, "this image" },
        };
        await Dialogs.ShowAsync<FluxWeb.Host.Components.Pages.Boards.ShareDialog>("Share", parameters, new DialogOptions { MaxWidth = MaxWidth.Medium, FullWidth = true, CloseOnEscapeKey = true });
    }

    /// <summary>A teammate's image goes into this account's own uploads first; the Studio then takes the copy like any picture of its own.</summary>
    private async Task UseSharedAsReferenceAsync()
    {
        if (actor is null || busy)
        {
            return;
        }

        busy = true;
        try
        {
            var copy = await Reuse.CopyAsReferenceAsync(actor, ImageId, "ui");
            if (copy.Allowed)
            {
                Go(StudioLinks.Reference(copy.ImageId!.Value));
            }
            else
            {
                Snackbar.Add(copy.Reason ?? "The image is no longer shared with you.", Severity.Warning);
            }
        }
        finally
        {
            busy = false;
        }
    }

    private async Task ToggleFavouriteAsync()
    {
        if (detail is null || actor is null || busy)
        {
            return;
        }

        busy = true;
        try
        {
            var wanted = !detail.Image.Favourite;
            var result = await Actions.SetFavouriteAsync(actor, detail.Image.Id, wanted);
            if (result.Outcome == GalleryActionOutcome.Done)
            {
                detail = detail with { Image = detail.Image with { Favourite = wanted } };
                await OnChanged.InvokeAsync(new ImageChange(detail.Image.Id, wanted, false));
            }
            else
            {
                Snackbar.Add(result.Reason ?? "The image no longer exists.", Severity.Warning);
            }
        }
        finally
        {
            busy = false;
        }
    }

    private async Task DeleteAsync()
    {
        if (detail is null || actor is null || busy)
        {
            return;
        }

        busy = true;
        try
        {
            var id = detail.Image.Id;
            if (await GalleryDeletion.ConfirmAndDeleteAsync(Dialogs, Snackbar, Actions, actor, id))
            {
                await OnChanged.InvokeAsync(new ImageChange(id, null, true));
            }
        }
        finally
        {
            busy = false;
        }
    }

    internal static string Describe(GalleryItem image) => image.Prompt is { Length: > 0 } prompt ? $"Generated image: {prompt}" : "Generated image";

    internal static string FileName(GalleryItem image) => $"fluxweb-{image.Id:N}.png";

    internal static string LicenceText(GalleryItem image) => image switch
    {
        { LicenceId: null } => "licence unknown",
        { NonCommercialModel: true } => $"{image.LicenceId} · non-commercial",
        _ => $"{image.LicenceId} · commercial use allowed",
    };

    private static string ModeText(JobMode mode) => mode switch
    {
        JobMode.TextToImage => "Text to image",
        JobMode.Edit => "Edit (source image)",
        JobMode.MultiReference => "Reference images",
        JobMode.MaskedEdit => "Masked edit",
        _ => mode.ToString(),
    };

    private static string SafetyText(GalleryDetail detail)
    {
        var verdict = detail.Image.SafetyVerdict switch
        {
            "Allowed" => "passed",
            "BlurredForReview" => "blurred for review",
            "Unchecked" => "not checked (image filtering was off or still installing when this image was made)",
            null => "not recorded",
            var other => other,
        };
        return detail.NsfwScore is { } score ? string.Create(CultureInfo.InvariantCulture, $"{verdict} (score {score:0.00})") : verdict;
    }

    private static string Duration(TimeSpan span) => span.TotalSeconds < 60
        ? string.Create(CultureInfo.InvariantCulture, $"{Math.Max(0, span.TotalSeconds):0.0} s")
        : string.Create(CultureInfo.InvariantCulture, $"{(int)span.TotalMinutes} min {span.Seconds} s");

    private static string FileSize(long bytes) => bytes >= 1024 * 1024
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.0} MB")
        : string.Create(CultureInfo.InvariantCulture, $"{Math.Max(1, bytes / 1024)} KB");
}
