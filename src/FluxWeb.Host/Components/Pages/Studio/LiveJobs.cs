using System.Globalization;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Jobs;
using FluxWeb.Inference.Pipeline;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// How a page folds the owner's job events into the jobs it shows. Events and database reads arrive
/// out of order (a read can be ahead of events still waiting), so progress only ever moves forward.
/// Shared by the My jobs panel and the Studio's stage, so the two never disagree about a job.
/// </summary>
public static class LiveJobs
{
    /// <summary>The job after <paramref name="e"/>; <paramref name="job"/> itself for events that change nothing it shows.</summary>
    public static JobView Apply(JobView job, JobEvent e) => Newer(job, e.Kind switch
    {
        JobEventKind.PositionChanged when job.State == JobState.Queued => job with { QueuePosition = e.QueuePosition },
        JobEventKind.Started => job with { State = JobState.Running, QueuePosition = null, Step = 0, TotalSteps = e.TotalSteps, StartedUtc = e.AtUtc, Stage = null },
        JobEventKind.Progress => job with { State = JobState.Running, QueuePosition = null, Step = e.Step, TotalSteps = e.TotalSteps, PreviewUrl = e.PreviewUrl ?? job.PreviewUrl, Stage = e.Stage ?? job.Stage },
        // A finished job has done all its steps, whichever step the last progress event named.
        JobEventKind.Succeeded => job with { State = JobState.Succeeded, Step = Math.Max(job.TotalSteps, e.TotalSteps), TotalSteps = Math.Max(job.TotalSteps, e.TotalSteps), OutputImageId = e.OutputImageId, OutputUrl = e.OutputUrl, PreviewUrl = null, FinishedUtc = e.AtUtc },
        JobEventKind.Failed => job with { State = JobState.Failed, Error = e.Error, PreviewUrl = null, FinishedUtc = e.AtUtc },
        JobEventKind.Cancelled => job with { State = JobState.Cancelled, Error = e.Error, PreviewUrl = null, FinishedUtc = e.AtUtc },
        _ => job,
    });

    /// <summary>
    /// A read of the database can be ahead of events still waiting to be applied, so progress only
    /// moves forward: a finished job stays finished and a running one never steps back.
    /// </summary>
    public static JobView Newer(JobView current, JobView candidate) => (current.State, candidate.State) switch
    {
        var (was, now) when was.IsFinished() && !now.IsFinished() => current,
        (JobState.Running, JobState.Queued) => current,
        (JobState.Running, JobState.Running) when IsBehind(candidate, current) => current,
        _ => candidate,
    };

    /// <summary>
    /// The place in line each of the owner's queued jobs shows. The forecast's positions come from
    /// separate events and reads, so two of them can briefly claim the same place (both "next to
    /// run"); the owner's own jobs are in line one behind the other, so the k-th of them is at least
    /// k-th, and no two ever show the same place.
    /// </summary>
    public static IReadOnlyDictionary<Guid, int> PlacesInLine(IEnumerable<JobView> jobs)
    {
        var places = new Dictionary<Guid, int>();
        var atLeast = 1;
        foreach (var job in jobs.Where(j => j.State == JobState.Queued && j.QueuePosition is not null)
                     .OrderBy(j => j.QueuePosition).ThenBy(j => j.EnqueuedUtc).ThenBy(j => j.BatchIndex))
        {
            var place = Math.Max(job.QueuePosition!.Value, atLeast);
            places[job.Id] = place;
            atLeast = place + 1;
        }

        return places;
    }

    /// <summary>
    /// A job's status in a line; <paramref name="placeInLine"/> from <see cref="PlacesInLine"/> (0: not
    /// known); with <paramref name="secondsPerImage"/> (recent GPU-seconds per image) a queued job says
    /// about how long it waits: the jobs ahead of it and the one running now, one average image each.
    /// </summary>
    public static string Describe(JobView job, int placeInLine = 0, double? secondsPerImage = null) => job.State switch
    {
        JobState.Queued when placeInLine == 1 && secondsPerImage is { } each => $"Queued · next to run · {About(each)}",
        JobState.Queued when placeInLine == 1 => "Queued · next to run",
        JobState.Queued when placeInLine > 1 && secondsPerImage is { } each => string.Create(CultureInfo.InvariantCulture, $"Queued · {About(placeInLine * each)} · {placeInLine - 1} ahead"),
        JobState.Queued when placeInLine > 1 => string.Create(CultureInfo.InvariantCulture, $"Queued · {placeInLine} in line"),
        JobState.Queued => "Queued",
        JobState.Running => DescribeRunning(job),
        JobState.Succeeded when job.Notice is not null => string.Create(CultureInfo.InvariantCulture, $"Done · {job.Width}×{job.Height} · seed {job.Seed} · not on the board you chose"),
        JobState.Succeeded => string.Create(CultureInfo.InvariantCulture, $"Done · {job.Width}×{job.Height} · seed {job.Seed}"),
        JobState.Failed => $"Failed: {job.Error}",
        JobState.Cancelled => job.Error ?? "Cancelled",
        _ => job.State.ToString(),
    };

    /// <summary>
    /// The first job after a start loads gigabytes of weights and the last moments go to the
    /// decoder, the safety check, watermark and signature: the status says so instead of sitting on
    /// "Starting" or on the last step. Decoding begins after the last step, so from then on the
    /// count reads "n of n" (the last step's own report can arrive after the decoder's and is
    /// then rightly ignored as older).
    /// </summary>
    public static string DescribeRunning(JobView job) => job.Stage switch
    {
        GenerationStage.LoadingModel => "Loading the model",
        GenerationStage.EncodingPrompt => "Reading the prompt",
        GenerationStage.EncodingImages => job.Mode == JobMode.TextToImage ? "Preparing the first step" : "Reading the pictures",
        GenerationStage.Decoding => string.Create(CultureInfo.InvariantCulture, $"Step {job.TotalSteps} of {job.TotalSteps} · decoding the image"),
        GenerationStage.Finished => string.Create(CultureInfo.InvariantCulture, $"Step {job.TotalSteps} of {job.TotalSteps} · checking, watermarking and signing"),
        _ when job.Step > 0 => string.Create(CultureInfo.InvariantCulture, $"Running · step {job.Step} of {job.TotalSteps}"),
        _ => "Starting",
    };

    /// <summary>"about 40 s", "about 3 min": rounded, as an estimate should be.</summary>
    public static string About(double seconds) => seconds switch
    {
        < 60 => string.Create(CultureInfo.InvariantCulture, $"about {Math.Max(5, Math.Round(seconds / 5) * 5):0} s"),
        < 3600 => string.Create(CultureInfo.InvariantCulture, $"about {Math.Round(seconds / 60):0} min"),
        _ => string.Create(CultureInfo.InvariantCulture, $"about {seconds / 3600:0.#} h"),
    };

    /// <summary>How far along the job is, 0–100; the decoder and the checks after it count as all steps done.</summary>
    public static double Percent(JobView job) =>
        job.TotalSteps <= 0 ? 0
        : job.Stage is GenerationStage.Decoding or GenerationStage.Finished ? 100
        : 100.0 * Math.Min(job.Step, job.TotalSteps) / job.TotalSteps;

    // No stage yet (just started) comes before every stage.
    private static bool IsBehind(JobView candidate, JobView current) =>
        candidate.Step < current.Step || (candidate.Step == current.Step && StageOrder(candidate) < StageOrder(current));

    private static int StageOrder(JobView job) => job.Stage is { } stage ? (int)stage : -1;
}
