using System.Globalization;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Jobs;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.JSInterop;
using MudBlazor;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// The signed-in user's waiting, running and recent jobs, live. State comes from the database on
/// every (re)load, so a reload or a second tab reattaches; changes come from the user's own job
/// events. Previews and outputs are plain image URLs from the authorised endpoints.
/// </summary>
public sealed partial class MyJobsPanel : IAsyncDisposable
{
    public const int RecentFinished = 10;

    private readonly HashSet<Guid> cancelling = [];

    // Finished jobs the person put out of sight: one by one, or all that finished before a "Clear finished".
    // Kept in this browser per user, so a reload does not bring them back; the jobs themselves stay in the history.
    private readonly HashSet<Guid> dismissed = [];
    private DateTime? clearedBeforeUtc;
    private double? secondsPerImage;
    private IJSObjectReference? module;
    private Dictionary<Guid, JobView>? jobs;
    private JobActor? actor;
    private IDisposable? subscription;

    // Events are applied one after another, on the circuit, after the first read: applying one
    // may read the database, and a read that finished after a later event would otherwise
    // overwrite it with an older state.
    private Task applied = Task.CompletedTask;

    [Inject]
    private JobService Jobs { get; set; } = default!;

    [Inject]
    private IJobEvents Events { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    /// <summary>False where finished images are shown elsewhere (the Studio's results): they leave this panel once done.</summary>
    [Parameter]
    public bool IncludeSucceeded { get; set; } = true;

    private IEnumerable<JobView> OrderedJobs =>
        jobs!.Values
            .Where(j => IncludeSucceeded || j.State != JobState.Succeeded)
            .Where(j => !j.State.IsFinished() || (!dismissed.Contains(j.Id) && !(j.FinishedUtc <= clearedBeforeUtc)))
            .OrderBy(j => j.State switch { JobState.Running => 0, JobState.Queued => 1, _ => 2 })
            .ThenBy(j => j.State == JobState.Queued ? j.QueuePosition ?? int.MaxValue : 0)
            .ThenByDescending(j => j.FinishedUtc ?? j.EnqueuedUtc)
            .ThenBy(j => j.BatchIndex);

    protected override async Task OnInitializedAsync()
    {
        if (AuthenticationState is null)
        {
            return;
        }

        actor = JobActor.From((await AuthenticationState).User);
        if (actor is null)
        {
            return;
        }

        // Subscribe before reading, so nothing that happens in between is missed. Only a live
        // circuit subscribes: the prerendered copy is thrown away at once.
        if (RendererInfo.IsInteractive)
        {
            subscription = Events.Subscribe(actor, OnJobEvent);
        }

        applied = LoadAsync(actor);
        await applied;
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (!firstRender || !RendererInfo.IsInteractive || actor is null)
        {
            return;
        }

        if (DismissedJobs.Parse(await CallAsync<string?>("load", StorageKey(actor))) is { } kept)
        {
            clearedBeforeUtc = kept.ClearedBeforeUtc;
            dismissed.UnionWith(kept.Ids);
            StateHasChanged();
        }
    }

    private static string StorageKey(JobActor user) => $"fluxweb.myjobs.dismissed.{user.UserId}";

    private async Task DismissAsync(Guid jobId)
    {
        dismissed.Add(jobId);
        await KeepDismissedAsync();
    }

    /// <summary>Every job finished by now leaves the list; those still to come stay.</summary>
    private async Task ClearFinishedAsync()
    {
        clearedBeforeUtc = jobs?.Values.Where(j => j.State.IsFinished()).Max(j => j.FinishedUtc) ?? clearedBeforeUtc;
        dismissed.Clear();
        await KeepDismissedAsync();
    }

    private async Task KeepDismissedAsync()
    {
        if (actor is null)
        {
            return;
        }

        // Only ids still listed are worth keeping; older ones have left the list by themselves.
        dismissed.IntersectWith(jobs?.Keys ?? Enumerable.Empty<Guid>());
        await CallAsync<bool>("save", StorageKey(actor), new DismissedJobs(clearedBeforeUtc, [.. dismissed]).ToJson());
    }

    private async Task<T?> CallAsync<T>(string function, params object?[] args)
    {
        try
        {
            module ??= await JS.InvokeAsync<IJSObjectReference>("import", Studio.ModulePath);
            return await module.InvokeAsync<T>(function, args);
        }
        catch (JSDisconnectedException)
        {
            return default;
        }
    }

    private async Task LoadAsync(JobActor user)
    {
        var list = await Jobs.ListMineAsync(user, RecentFinished);
        jobs = list.ToDictionary(j => j.Id);
        secondsPerImage = await Jobs.RecentGpuSecondsPerImageAsync();
    }

    private void OnJobEvent(JobEvent jobEvent) => _ = EnqueueOnCircuitAsync(jobEvent);

    private async Task EnqueueOnCircuitAsync(JobEvent jobEvent)
    {
        try
        {
            // Runs on the circuit's dispatcher, so 'applied' is only ever touched there.
            await InvokeAsync(() => applied = ApplyAfterAsync(applied, jobEvent));
        }
        catch (Exception ex)
        {
            await DispatchExceptionAsync(ex);
        }
    }

    private async Task ApplyAfterAsync(Task previous, JobEvent jobEvent)
    {
        try
        {
            await previous;
            await ApplyAsync(jobEvent);
            StateHasChanged();
        }
        catch (Exception ex)
        {
            await DispatchExceptionAsync(ex);
        }
    }

    private async Task ApplyAsync(JobEvent e)
    {
        if (jobs is null || actor is null)
        {
            return;
        }

        if (e.Kind == JobEventKind.Succeeded)
        {
            // Every finished image sharpens the wait estimates.
            secondsPerImage = await Jobs.RecentGpuSecondsPerImageAsync();
        }

        if (!jobs.TryGetValue(e.JobId, out var job) || e.Kind is JobEventKind.Queued or JobEventKind.Requeued)
        {
            // A job queued from another tab or door, or one whose row changed as a whole: read it.
            if (await Jobs.GetAsync(actor, e.JobId) is { } fresh)
            {
                jobs[e.JobId] = job is null || e.Kind == JobEventKind.Requeued ? fresh : LiveJobs.Newer(job, fresh);
            }

            return;
        }

        jobs[e.JobId] = LiveJobs.Apply(job, e);
    }

    private async Task CancelAsync(Guid jobId)
    {
        if (actor is null || !cancelling.Add(jobId))
        {
            return;
        }

        try
        {
            var outcome = await Jobs.CancelAsync(actor, jobId);
            switch (outcome)
            {
                case CancelOutcome.AlreadyFinished:
                    Snackbar.Add("That job had already finished.", Severity.Info);
                    break;
                case CancelOutcome.NotFound:
                    Snackbar.Add("That job no longer exists.", Severity.Warning);
                    jobs?.Remove(jobId);
                    break;
                case CancelOutcome.LicenceRefused:
                    Snackbar.Add("Your account's licence no longer covers that job's model, so it is no longer shown to you.", Severity.Warning);
                    jobs?.Remove(jobId);
                    break;
            }
        }
        finally
        {
            cancelling.Remove(jobId);
        }
    }

    /// <summary>Before the first step the bar cannot say how far along the job is.</summary>
    private static bool IsIndeterminate(JobView job) => LiveJobs.Percent(job) == 0;


    private static string? ThumbnailUrl(JobView job) => job.State switch
    {
        JobState.Running => job.PreviewUrl,
        JobState.Succeeded => job.OutputUrl,
        _ => null,
    };

    private static string ThumbnailAlt(JobView job) => job.State == JobState.Running
        ? string.Create(CultureInfo.InvariantCulture, $"Preview at step {job.Step}")
        : $"Generated image for “{job.Prompt}”";

    public async ValueTask DisposeAsync()
    {
        subscription?.Dispose();
        if (module is not null)
        {
            try
            {
                await module.DisposeAsync();
            }
            catch (JSDisconnectedException)
            {
                // The circuit is gone and the module with it.
            }
        }
    }
}
