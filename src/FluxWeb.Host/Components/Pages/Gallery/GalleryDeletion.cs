using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using MudBlazor;

namespace FluxWeb.Host.Components.Pages.Gallery;

/// <summary>Deleting from the grid and from the detail view: always asked first, and the outcome said in words.</summary>
internal static class GalleryDeletion
{
    public const string Title = "Delete this image?";

    public const string ConfirmText = "Delete";

    /// <summary>True when the image was deleted; false when the user cancelled or it could not be.</summary>
    public static async Task<bool> ConfirmAndDeleteAsync(IDialogService dialogs, ISnackbar snackbar, GalleryActions actions, JobActor actor, Guid imageId)
    {
        var confirmed = await dialogs.ShowMessageBoxAsync(
            Title,
            "The image file is removed from the server for good. Its prompt stays in your history. This cannot be undone.",
            yesText: ConfirmText,
            cancelText: "Cancel",
            options: new DialogOptions { CloseOnEscapeKey = true, MaxWidth = MaxWidth.ExtraSmall, FullWidth = true });
        if (confirmed != true)
        {
            return false;
        }

        var result = await actions.DeleteAsync(actor, imageId, "ui");
        switch (result.Outcome)
        {
            case GalleryActionOutcome.Done:
                snackbar.Add("Image deleted.", Severity.Success);
                return true;
            case GalleryActionOutcome.NotFound:
                // Gone already (another tab): the list should forget it too.
                snackbar.Add("That image had already been deleted.", Severity.Info);
                return true;
            default:
                snackbar.Add(result.Reason ?? "The image could not be deleted.", Severity.Warning);
                return false;
        }
    }
}
