using FluxWeb.Domain.Jobs;
using FluxWeb.Domain.Time;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// Receives the engine's per-step progress: the live board and the owner's subscriptions get every
/// step; the database gets the step at most once per <c>Queue:ProgressWriteInterval</c>, so a fast
/// engine does not turn into a stream of writes. The write is made under the job's lease: when it is
/// refused the lease is lost (<paramref name="leaseLost"/>), and from then on this run's steps are
/// nobody's business: no more events or writes.
/// </summary>
internal sealed partial class JobProgressReporter(
    Job job,
    JobLease lease,
    LiveProgress live,
    IJobEvents events,
    IDbContextFactory<FluxWebDbContext> contexts,
    AppClock time,
    TimeSpan writeInterval,
    Action leaseLost,
    ILogger logger) : IProgress<GenerationProgress>
{
    private readonly Lock gate = new();
    private long lastWrite = time.GetTimestamp();
    private Task pendingWrite = Task.CompletedTask;
    private volatile bool lost;

    public void Report(GenerationProgress value)
    {
        if (lost)
        {
            return;
        }

        live.Update(value);
        var previewStep = live.PreviewStep;
        events.Publish(new JobEvent(JobEventKind.Progress, job.Id, job.OwnerId, JobState.Running, time.GetUtcNow().UtcDateTime)
        {
            Stage = value.Stage,
            Step = live.Step,
            TotalSteps = live.TotalSteps,
            PreviewUrl = previewStep is { } s ? JobUrls.Preview(job.Id, s) : null,
        });

        lock (gate)
        {
            if (pendingWrite.IsCompleted && time.GetElapsedTime(lastWrite) >= writeInterval)
            {
                lastWrite = time.GetTimestamp();
                pendingWrite = WriteStepAsync(live.Step, live.TotalSteps);
            }
        }
    }

    public Task FlushAsync()
    {
        lock (gate)
        {
            return pendingWrite;
        }
    }

    private async Task WriteStepAsync(int step, int totalSteps)
    {
        try
        {
            await using var db = await contexts.CreateDbContextAsync();
            if (!await JobTransitions.RecordProgressAsync(db, lease, step, totalSteps, CancellationToken.None))
            {
                lost = true;
                leaseLost();
            }
        }
        catch (Exception ex)
        {
            // Progress in the database is a convenience for other readers; the job goes on.
            LogWriteFailed(logger, ex, job.Id);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the progress of job {JobId}")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, Guid jobId);
}
