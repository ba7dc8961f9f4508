using System.Globalization;
using FluxWeb.Application.Jobs;
using Microsoft.AspNetCore.Components;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// The Studio's stage: the running job's live preview at the size of the stage (the preview endpoint's
/// image, scaled by the browser), else the result on show with its actions. <see cref="ResultActions"/>
/// is the slot for further per-result actions (the iteration loop), rendered beside the built-in ones.
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

    /// <summary>More actions for the result on the stage, rendered after the built-in ones.</summary>
    [Parameter]
    public RenderFragment<JobView>? ResultActions { get; set; }

    private string Showing => Live is not null ? "live" : Result is not null ? "result" : "empty";

    // The frame takes the picture's shape, so the preview does not jump when the result replaces it.
    private static string AspectStyle(JobView job) =>
        job.Width > 0 && job.Height > 0 ? string.Create(CultureInfo.InvariantCulture, $"--fw-aspect: {job.Width} / {job.Height};") : "--fw-aspect: 1;";

    internal static string Facts(JobView job) =>
        string.Create(CultureInfo.InvariantCulture, $"{job.Width}×{job.Height} · seed {job.Seed} · {job.ModelId}");

    private static string DownloadUrl(JobView job) => $"{job.OutputUrl}?download=true";

    private static string FileName(JobView job) => $"fluxweb-{job.OutputImageId:N}.png";
}
