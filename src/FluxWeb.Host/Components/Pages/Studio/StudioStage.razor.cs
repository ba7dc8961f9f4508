using System.Globalization;
using FluxWeb.Application.Jobs;
using Microsoft.AspNetCore.Components;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// The Studio's stage: the running job's live preview at the size of the stage (the preview endpoint's
/// image, scaled by the browser), else the result on show with its actions and the loop's (<see cref="MoreActions"/>); a click on it opens the
/// <see cref="Lightbox"/> over the results.
/// </summary>
public sealed partial class StudioStage
{
    /// <summary>The running job to show; null shows <see cref="Result"/>.</summary>
    [Parameter]
    public JobView? Live { get; set; }

    /// <summary>The finished image to show when no job is live.</summary>
    [Parameter]
    public JobView? Result { get; set; }

    /// <summary>Whether a job runs while a picked result is shown (the stage offers to go back to it).</summary>
    [Parameter]
    public bool RunningElsewhere { get; set; }

    [Parameter]
    public EventCallback OnFollowLive { get; set; }

    [Parameter]
    public EventCallback<JobView> OnUseAsReference { get; set; }

    [Parameter]
    public EventCallback<JobView> OnEdit { get; set; }

    [Parameter]
    public EventCallback<JobView> OnReuseSeed { get; set; }

    [Parameter]
    public EventCallback<JobView> OnUseSettings { get; set; }

    /// <summary>More actions for the result on the stage (the loop's), rendered after the built-in ones.</summary>
    [Parameter]
    public RenderFragment<JobView>? MoreActions { get; set; }

    /// <summary>The finished results, newest first: the lightbox steps through them from the one on the stage.</summary>
    [Parameter]
    public IReadOnlyList<JobView>? Results { get; set; }

    private IReadOnlyList<LightboxItem> lightboxItems = [];
    private bool lightboxOpen;
    private int lightboxIndex;

    protected override void OnParametersSet()
    {
        // A result that finishes while the lightbox is open goes to the front; the picture on show stays on show.
        var shown = lightboxOpen && lightboxIndex < lightboxItems.Count ? lightboxItems[lightboxIndex].ImageId : (Guid?)null;
        lightboxItems = [.. (Results ?? []).Where(j => j.OutputImageId is not null && j.OutputUrl is not null).Select(LightboxItem.From)];
        if (shown is { } id)
        {
            var index = IndexOf(id);
            (lightboxIndex, lightboxOpen) = index >= 0 ? (index, true) : (0, false);
        }
    }

    private void OpenLightbox()
    {
        if (Result?.OutputImageId is { } id && IndexOf(id) is var index and >= 0)
        {
            (lightboxIndex, lightboxOpen) = (index, true);
        }
    }

    private int IndexOf(Guid imageId)
    {
        for (var i = 0; i < lightboxItems.Count; i++)
        {
            if (lightboxItems[i].ImageId == imageId)
            {
                return i;
            }
        }

        return -1;
    }

    private Task EditAsync(Guid imageId) => Find(imageId) is { } job ? OnEdit.InvokeAsync(job) : Task.CompletedTask;

    private Task UseAsReferenceAsync(Guid imageId) => Find(imageId) is { } job ? OnUseAsReference.InvokeAsync(job) : Task.CompletedTask;

    private JobView? Find(Guid imageId) => Results?.FirstOrDefault(j => j.OutputImageId == imageId);

    private string Showing => Live is not null ? "live" : Result is not null ? "result" : "empty";

    // The frame takes the picture's shape, so the preview does not jump when the result replaces it.
    private static string AspectStyle(JobView job) =>
        job.Width > 0 && job.Height > 0 ? string.Create(CultureInfo.InvariantCulture, $"--fw-aspect: {job.Width} / {job.Height};") : "--fw-aspect: 1;";

    internal static string Facts(JobView job) =>
        string.Create(CultureInfo.InvariantCulture, $"{job.Width}×{job.Height} · seed {job.Seed} · {job.ModelId}");

    private static string DownloadUrl(JobView job) => $"{job.OutputUrl}?download=true";

    private static string FileName(JobView job) => $"fluxweb-{job.OutputImageId:N}.png";
}
