using System.Globalization;
using FluxWeb.Application.Jobs;
using Microsoft.AspNetCore.Components;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// The user's latest finished images, newest first, as the <see cref="StudioSession"/> follows them
/// (each appears the moment its job succeeds). Images are URLs of the authorised image endpoint, never bytes.
/// </summary>
public sealed partial class StudioResults
{
    /// <summary>Newest first; null while they load.</summary>
    [Parameter]
    public IReadOnlyList<JobView>? Results { get; set; }

    [Parameter]
    public EventCallback<JobView> OnUseAsReference { get; set; }

    [Parameter]
    public EventCallback<JobView> OnEdit { get; set; }

    [Parameter]
    public EventCallback<JobView> OnReuseSeed { get; set; }

    [Parameter]
    public EventCallback<JobView> OnUseSettings { get; set; }

    private IReadOnlyList<LightboxItem> items = [];
    private bool lightboxOpen;
    private int lightboxIndex;

    protected override void OnParametersSet()
    {
        // A result that finishes while the lightbox is open goes to the front; the picture on show stays on show.
        var shown = lightboxOpen && lightboxIndex < items.Count ? items[lightboxIndex].ImageId : (Guid?)null;
        items = [.. (Results ?? []).Where(j => j.OutputImageId is not null && j.OutputUrl is not null).Select(LightboxItem.From)];
        if (shown is { } id)
        {
            var index = items.ToList().FindIndex(i => i.ImageId == id);
            (lightboxIndex, lightboxOpen) = index >= 0 ? (index, true) : (0, false);
        }
    }

    private void OpenLightbox(JobView job)
    {
        var index = items.ToList().FindIndex(i => i.ImageId == job.OutputImageId);
        if (index >= 0)
        {
            (lightboxIndex, lightboxOpen) = (index, true);
        }
    }

    private Task EditAsync(Guid imageId) => Find(imageId) is { } job ? OnEdit.InvokeAsync(job) : Task.CompletedTask;

    private Task UseAsReferenceAsync(Guid imageId) => Find(imageId) is { } job ? OnUseAsReference.InvokeAsync(job) : Task.CompletedTask;

    private JobView? Find(Guid imageId) => Results?.FirstOrDefault(j => j.OutputImageId == imageId);

    private static string Facts(JobView job) =>
        string.Create(CultureInfo.InvariantCulture, $"{job.Width}×{job.Height} · seed {job.Seed} · {job.ModelId}");

    private static string DownloadUrl(JobView job) => $"{job.OutputUrl}?download=true";

    private static string FileName(JobView job) => $"fluxweb-{job.OutputImageId:N}.png";
}
