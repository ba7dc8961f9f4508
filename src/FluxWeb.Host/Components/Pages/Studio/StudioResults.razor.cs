using System.Globalization;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Jobs;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// The user's latest finished images, newest first; each one appears the moment its job succeeds
/// (the owner's own job events). Images are URLs of the authorised image endpoint, never bytes.
/// </summary>
public sealed partial class StudioResults : IDisposable
{
    public const int Shown = 12;

    private List<JobView>? results;
    private JobActor? actor;
    private IDisposable? subscription;

    [Inject]
    private JobService Jobs { get; set; } = default!;

    [Inject]
    private IJobEvents Events { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    [Parameter]
    public EventCallback<JobView> OnUseAsReference { get; set; }

    [Parameter]
    public EventCallback<JobView> OnEdit { get; set; }

    [Parameter]
    public EventCallback<JobView> OnReuseSeed { get; set; }

    [Parameter]
    public EventCallback<JobView> OnUseSettings { get; set; }

    /// <summary>A job finished while the page was open (the newest result).</summary>
    [Parameter]
    public EventCallback<JobView> OnNewResult { get; set; }

    protected override async Task OnInitializedAsync()
    {
        actor = AuthenticationState is null ? null : JobActor.From((await AuthenticationState).User);
        if (actor is null)
        {
            results = [];
            return;
        }

        // Subscribe before reading, so a job that finishes in between is not missed.
        if (RendererInfo.IsInteractive)
        {
            subscription = Events.Subscribe(actor, OnJobEvent);
        }

        var recent = await Jobs.ListMineAsync(actor, JobService.MaxListed);
        var loaded = recent.Where(j => j.State == JobState.Succeeded && j.OutputUrl is not null)
            .OrderByDescending(j => j.FinishedUtc)
            .Take(Shown)
            .ToList();
        results = results is null ? loaded : [.. results.UnionBy(loaded, j => j.Id).OrderByDescending(j => j.FinishedUtc).Take(Shown)];
    }

    private void OnJobEvent(JobEvent jobEvent)
    {
        if (jobEvent.Kind == JobEventKind.Succeeded)
        {
            _ = AddOnCircuitAsync(jobEvent.JobId);
        }
    }

    private async Task AddOnCircuitAsync(Guid jobId)
    {
        try
        {
            await InvokeAsync(async () =>
            {
                if (actor is null || await Jobs.GetAsync(actor, jobId) is not { State: JobState.Succeeded, OutputUrl: not null } job)
                {
                    return;
                }

                results ??= [];
                results.RemoveAll(r => r.Id == job.Id);
                results.Insert(0, job);
                if (results.Count > Shown)
                {
                    results.RemoveRange(Shown, results.Count - Shown);
                }

                StateHasChanged();
                await OnNewResult.InvokeAsync(job);
            });
        }
        catch (Exception ex)
        {
            await DispatchExceptionAsync(ex);
        }
    }

    private static string Facts(JobView job) =>
        string.Create(CultureInfo.InvariantCulture, $"{job.Width}×{job.Height} · seed {job.Seed} · {job.ModelId}");

    private static string DownloadUrl(JobView job) => $"{job.OutputUrl}?download=true";

    private static string FileName(JobView job) => $"fluxweb-{job.OutputImageId:N}.png";

    public void Dispose() => subscription?.Dispose();
}
