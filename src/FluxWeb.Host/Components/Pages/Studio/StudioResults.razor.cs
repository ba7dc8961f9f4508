using FluxWeb.Application.Jobs;
using Microsoft.AspNetCore.Components;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// The filmstrip under the stage: the person's queued and running jobs (so every member of a batch
/// has its place from the start), then the latest finished images, newest first, as the
/// <see cref="StudioSession"/> follows them. A click puts one on the stage.
/// </summary>
public sealed partial class StudioResults
{
    /// <summary>Newest first; null while they load.</summary>
    [Parameter]
    public IReadOnlyList<JobView>? Results { get; set; }

    /// <summary>Jobs still to come: running first, then waiting.</summary>
    [Parameter]
    public IReadOnlyList<JobView> Pending { get; set; } = [];

    /// <summary>The result on the stage.</summary>
    [Parameter]
    public Guid? SelectedId { get; set; }

    /// <summary>Whether the stage shows the running job rather than a result.</summary>
    [Parameter]
    public bool LiveShown { get; set; }

    /// <summary>
    /// Shown at the end of the heading's line (the boards to drag results onto): on that line it takes no
    /// height, so it is in view with the filmstrip without scrolling the stage away.
    /// </summary>
    [Parameter]
    public RenderFragment? HeadingEnd { get; set; }

    [Parameter]
    public EventCallback<JobView> OnSelect { get; set; }

    [Parameter]
    public EventCallback OnFollowLive { get; set; }

    private bool IsSelected(JobView job) => !LiveShown && job.Id == SelectedId;

    private static string? ThumbnailUrl(JobView job) => job.OutputUrl is { } url ? $"{url}/thumbnail" : null;
}
