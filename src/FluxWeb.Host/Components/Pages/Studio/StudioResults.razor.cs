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

    private static string Facts(JobView job) =>
        string.Create(CultureInfo.InvariantCulture, $"{job.Width}×{job.Height} · seed {job.Seed} · {job.ModelId}");

    private static string DownloadUrl(JobView job) => $"{job.OutputUrl}?download=true";

    private static string FileName(JobView job) => $"fluxweb-{job.OutputImageId:N}.png";
}
