using System.Globalization;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Jobs;
using FluxWeb.Inference.Pipeline;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using MudBlazor;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// The signed-in user's waiting, running and recent jobs, live. State comes from the database on
/// every (re)load, so a reload or a second tab reattaches; changes come from the user's own job
/// events. Previews and outputs are plain image URLs from the authorised endpoints.
/// </summary>
public sealed partial class MyJobsPanel : IDisposable
{
    public const int RecentFinished = 10;

    private readonly HashSet<Guid> cancelling = [];
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

    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    /// <summary>False where finished images are shown elsewhere (the Studio's results): they leave this panel once done.</summary>
    [Parameter]
    public bool IncludeSucceeded { get; set; } = true;

    private IEnumerable<JobView> OrderedJobs =>
        jobs!.Values
            .Where(j => IncludeSucceeded || j.State != JobState.Succeeded)
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

    private async Task LoadAsync(JobActor user)
    {
        var list = await Jobs.ListMineAsync(user, RecentFinished);
        jobs = list.ToDictionary(j => j.Id);
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

        if (!jobs.TryGetValue(e.JobId, out var job) || e.Kind is JobEventKind.Queued or JobEventKind.Requeued)
        {
            // A job queued from another tab or door, or one whose row changed as a whole: read it.
            if (await Jobs.GetAsync(actor, e.JobId) is { } fresh)
            {
                jobs[e.JobId] = job is null || e.Kind == JobEventKind.Requeued ? fresh : Newer(job, fresh);
            }

            return;
        }

        jobs[e.JobId] = Newer(job, e.Kind switch
        {
            JobEventKind.PositionChanged => job with { QueuePosition = e.QueuePosition },
            JobEventKind.Started => job with { State = JobState.Running, QueuePosition = null, Step = 0, TotalSteps = e.TotalSteps, StartedUtc = e.AtUtc, Stage = null },
            JobEventKind.Progress => job with { State = JobState.Running, Step = e.Step, TotalSteps = e.TotalSteps, PreviewUrl = e.PreviewUrl ?? job.PreviewUrl, Stage = e.Stage ?? job.Stage },
            JobEventKind.Succeeded => job with { State = JobState.Succeeded, Step = e.TotalSteps, OutputImageId = e.OutputImageId, OutputUrl = e.OutputUrl, PreviewUrl = null, FinishedUtc = e.AtUtc },
            JobEventKind.Failed => job with { State = JobState.Failed, Error = e.Error, PreviewUrl = null, FinishedUtc = e.AtUtc },
            JobEventKind.Cancelled => job with { State = JobState.Cancelled, Error = e.Error, PreviewUrl = null, FinishedUtc = e.AtUtc },
            _ => job,
        });
    }

    /// <summary>
    /// A read of the database can be ahead of events still waiting to be applied, so progress only
    /// moves forward: a finished job stays finished and a running one never steps back.
    /// </summary>
    private static JobView Newer(JobView current, JobView candidate) => (current.State, candidate.State) switch
    {
        var (was, now) when was.IsFinished() && !now.IsFinished() => current,
        (JobState.Running, JobState.Queued) => current,
        (JobState.Running, JobState.Running) when IsBehind(candidate, current) => current,
        _ => candidate,
    };

    // No stage yet (just started) comes before every stage.
    private static bool IsBehind(JobView candidate, JobView current) =>
        candidate.Step < current.Step || (candidate.Step == current.Step && StageOrder(candidate) < StageOrder(current));

    private static int StageOrder(JobView job) => job.Stage is { } stage ? (int)stage : -1;

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

    private static string Describe(JobView job) => job.State switch
    {
        JobState.Queued when job.QueuePosition == 1 => "Queued · next to run",
        JobState.Queued when job.QueuePosition is { } position => string.Create(CultureInfo.InvariantCulture, $"Queued · {position} in line"),
        JobState.Queued => "Queued",
        JobState.Running => DescribeRunning(job),
        JobState.Succeeded => string.Create(CultureInfo.InvariantCulture, $"Done · {job.Width}×{job.Height} · seed {job.Seed}"),
        JobState.Failed => $"Failed: {job.Error}",
        JobState.Cancelled => job.Error ?? "Cancelled",
        _ => job.State.ToString(),
    };

    /// <summary>
    /// The first job after a start loads gigabytes of weights and the last moments go to the
    /// safety check, watermark and signature: the status says so instead of sitting on "Starting"
    /// or on the last step.
    /// </summary>
    private static string DescribeRunning(JobView job) => job.Stage switch
    {
        GenerationStage.LoadingModel => "Loading the model",
        GenerationStage.EncodingPrompt => "Reading the prompt",
        GenerationStage.EncodingImages => job.Mode == JobMode.TextToImage ? "Preparing the first step" : "Reading the pictures",
        GenerationStage.Decoding => "Decoding the image",
        GenerationStage.Finished => "Checking, watermarking and signing",
        _ when job.Step > 0 => string.Create(CultureInfo.InvariantCulture, $"Running · step {job.Step} of {job.TotalSteps}"),
        _ => "Starting",
    };

    /// <summary>Before the first step the bar cannot say how far along the job is.</summary>
    private static bool IsIndeterminate(JobView job) => job.Step == 0;

    private static double Percent(JobView job) => job.TotalSteps > 0 ? 100.0 * job.Step / job.TotalSteps : 0;

    private static string? ThumbnailUrl(JobView job) => job.State switch
    {
        JobState.Running => job.PreviewUrl,
        JobState.Succeeded => job.OutputUrl,
        _ => null,
    };

    private static string ThumbnailAlt(JobView job) => job.State == JobState.Running
        ? string.Create(CultureInfo.InvariantCulture, $"Preview at step {job.Step}")
        : $"Generated image for “{job.Prompt}”";

    public void Dispose() => subscription?.Dispose();
}
