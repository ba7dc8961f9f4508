using FluxWeb.Application.Boards;
using FluxWeb.Application.Images;
using FluxWeb.Application.Outputs;
using FluxWeb.Application.Quotas;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Domain.Time;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// Runs one claimed job in its own scope: inputs from the image store, the worker's engine with the job's
/// cancellation, the output stored with its licence, measured GPU time charged. Every ending is
/// written to the job row; nothing here lets one job's failure reach the worker.
/// </summary>
/// <remarks>
/// Every write is made under the job's lease (<see cref="JobLease"/>), which is renewed beside the engine
/// run. When the lease is lost (reclaimed after it expired, or from a process declared dead) the run is
/// stopped and nothing of it stays: no image row or file, no GPU-seconds or quota charged, no event, no
/// board entry; the job belongs to whichever worker claimed it since.
/// </remarks>
public sealed partial class JobRunner(
    JobAdmission admission,
    ImageStore images,
    OutputFinisher finisher,
    WatermarkSerials serials,
    QuotaService quotas,
    IDbContextFactory<FluxWebDbContext> contexts,
    LiveJobBoard board,
    IJobEvents events,
    IOptions<QueueOptions> options,
    BoardAutoAdd autoAdd,
    AppClock time,
    ILogger<JobRunner> logger)
{
    public const string UnexpectedFailure = "The job failed because of an unexpected error on the server. An administrator can find the details in the log under this job's id.";

    public const string DatabaseFull = "The job's result could not be recorded: the server's disk is full. Your quota was given back; an administrator needs to free space.";

    /// <summary>Longest wait between attempts to record how a job ended while the database refuses writes.</summary>
    private static readonly TimeSpan MaxRecordRetryDelay = TimeSpan.FromSeconds(30);

    private CancellationToken stopping;
    private JobLease lease = default!;
    private RunningJobs.Handle handle = default!;

    // 1 once this run learned that its lease is lost; from then on it writes nothing.
    private int leaseLost;

    private bool LeaseLost => Volatile.Read(ref leaseLost) == 1;

    /// <param name="lease">The claim this run holds: every write is conditional on it.</param>
    /// <param name="generator">The engine of the device the worker serves.</param>
    /// <param name="engineFree">Called once the engine has returned (or thrown): storing the output no longer holds the GPU, so the worker may start the next job.</param>
    /// <returns>The seconds the engine held the device for this job (zero when it never reached it).</returns>
    public async Task<double> RunAsync(Job job, JobLease lease, IImageGenerator generator, RunningJobs.Handle handle, Action engineFree, CancellationToken stopping)
    {
        ArgumentNullException.ThrowIfNull(lease);
        if (lease.JobId != job.Id)
        {
            throw new ArgumentException($"The lease is for job {lease.JobId}, not {job.Id}.", nameof(lease));
        }

        this.stopping = stopping;
        this.lease = lease;
        this.handle = handle;
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["JobId"] = job.Id, ["OwnerId"] = job.OwnerId, ["ModelId"] = job.Settings.ModelId, ["WorkerId"] = lease.WorkerId, ["Epoch"] = lease.Epoch });
        using var renewing = new CancellationTokenSource();
        var renewals = RenewLeaseAsync(renewing.Token);
        try
        {
            return await RunLeasedAsync(job, generator, engineFree);
        }
        finally
        {
            // The lease is renewed until the run's last write is made (storing a large output takes time too).
            await renewing.CancelAsync();
            await renewals;
        }
    }

    /// <summary>
    /// Every third of <c>Queue:LeaseDuration</c> (on the <see cref="AppClock"/>) the lease is extended. An
    /// answer "lost" stops the engine run and drops its result; a failed write (a locked database) is tried
    /// again at the next tick, and the lease may expire meanwhile, which the next renewal then learns.
    /// </summary>
    private async Task RenewLeaseAsync(CancellationToken cancellationToken)
    {
        var every = options.Value.LeaseRenewalInterval;
        while (!cancellationToken.IsCancellationRequested && !LeaseLost)
        {
            try
            {
                await Task.Delay(every, time, cancellationToken);
                await using var db = await contexts.CreateDbContextAsync(cancellationToken);
                if (!await JobTransitions.RenewLeaseAsync(db, lease, Now + options.Value.LeaseDuration, cancellationToken))
                {
                    OnLeaseLost();
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogRenewalFailed(logger, ex, lease.JobId, lease.WorkerId, lease.Epoch);
            }
        }
    }

    /// <summary>The job is no longer this run's: said once, and the engine run is stopped if it still goes.</summary>
    private void OnLeaseLost()
    {
        if (Interlocked.Exchange(ref leaseLost, 1) == 0)
        {
            LogRejected(logger, lease.JobId, lease.WorkerId, lease.Epoch);
            handle.Abandon();
        }
    }

    private async Task<double> RunLeasedAsync(Job job, IImageGenerator generator, Action engineFree)
    {
        var live = board.Start(job.Id, job.OwnerId, job.TotalSteps);
        var progress = new JobProgressReporter(job, lease, live, events, contexts, time, options.Value.ProgressWriteInterval, OnLeaseLost, logger);
        events.Publish(new JobEvent(JobEventKind.Started, job.Id, job.OwnerId, JobState.Running, Now) { TotalSteps = job.TotalSteps });
        LogStarted(logger, job.Id, job.Attempts);

        // Time the engine held the GPU; set when it returns or throws, charged however the job ends.
        double engineSeconds = 0;
        try
        {
            // The account, the model's settings, the licence and the inputs may have changed while the job
            // waited: the same admission as at submission, at the GPU's door (the quota already holds the job).
            var (admitted, refusal) = await admission.AdmitAsync(job.OwnerId, job.Settings, AdmissionDoor.Run(job.Id), handle.Token);
            using (admitted)
            {
                if (admitted is null)
                {
                    engineFree();
                    await EndAsync(job, JobState.Failed, JobEventKind.Failed, refusal!.Message, 0);
                    return 0;
                }

                var manifest = admitted.Manifest;
                var started = time.GetTimestamp();
                GenerationResult result;
                try
                {
                    result = await generator.GenerateAsync(admitted.Inputs.ToRequest(job.Settings), progress, handle.Token);
                }
                finally
                {
                    engineSeconds = time.GetElapsedTime(started).TotalSeconds;
                    engineFree();
                }

                using (result.Image)
                {
                    await progress.FlushAsync();
                    if (LeaseLost)
                    {
                        // Taken back while the engine ran: the output is not this run's to store.
                        return engineSeconds;
                    }

                    var finished = finisher.Finish(result, manifest, await serials.IssueAsync(job.Id, job.OwnerId, manifest, CancellationToken.None), await IngredientsAsync(job));
                    await SucceedAsync(job, result, finished, manifest.Licence, engineSeconds);
                }
            }
        }
        catch (OperationCanceledException) when (LeaseLost)
        {
            // Stopped because another worker has the job now: nothing to record (it was said in OnLeaseLost).
            await progress.FlushAsync();
        }
        catch (OperationCanceledException) when (handle.Token.IsCancellationRequested && !handle.CancelRequested && stopping.IsCancellationRequested)
        {
            await progress.FlushAsync();
            await RequeueAsync(job);
        }
        catch (OperationCanceledException) when (handle.Token.IsCancellationRequested)
        {
            await progress.FlushAsync();
            await EndAsync(job, JobState.Cancelled, JobEventKind.Cancelled, null, engineSeconds);
        }
        catch (InferenceFailedException ex)
        {
            LogEngineFailed(logger, ex, job.Id, ex.Kind);
            await progress.FlushAsync();
            await EndAsync(job, JobState.Failed, JobEventKind.Failed, ex.Message, engineSeconds);
        }
        catch (OutputBlockedException ex)
        {
            await progress.FlushAsync();
            await EndAsync(job, JobState.Failed, JobEventKind.Failed, ex.Message, engineSeconds);
        }
        catch (GenerationRequestException ex)
        {
            await progress.FlushAsync();
            await EndAsync(job, JobState.Failed, JobEventKind.Failed, ex.Message, engineSeconds);
        }
        catch (ImageStorageException ex)
        {
            // The image was made but cannot be kept (a full disk): the job fails and says so, the quota is given back.
            LogOutputNotStored(logger, ex, job.Id);
            await progress.FlushAsync();
            await EndAsync(job, JobState.Failed, JobEventKind.Failed, $"{ex.Message} Your quota was given back.", engineSeconds);
        }
        catch (Exception ex)
        {
            LogUnexpected(logger, ex, job.Id);
            await progress.FlushAsync();
            await EndAsync(job, JobState.Failed, JobEventKind.Failed, IsDatabaseFull(ex) ? DatabaseFull : UnexpectedFailure, engineSeconds);
        }
        finally
        {
            board.Finish(job.Id);
        }

        return engineSeconds;
    }

    private DateTime Now => time.GetUtcNow().UtcDateTime;

    /// <summary>The job's input images as they were stored, for the output's Content Credentials.</summary>
    private async Task<IReadOnlyList<InputImage>> IngredientsAsync(Job job)
    {
        var inputs = new List<InputImage>();
        async Task AddAsync(Guid? id, string title)
        {
            if (id is { } imageId && await images.ReadOwnedBytesAsync(job.OwnerId, imageId, CancellationToken.None) is { } bytes)
            {
                inputs.Add(new InputImage(title, bytes));
            }
        }

        await AddAsync(job.Settings.SourceImageId, "source image");
        await AddAsync(job.Settings.MaskImageId, "mask");
        for (var i = 0; i < job.Settings.ReferenceImageIds.Count; i++)
        {
            await AddAsync(job.Settings.ReferenceImageIds[i], $"reference image {i + 1}");
        }

        return inputs;
    }

    private async Task SucceedAsync(Job job, GenerationResult result, FinishedImage finished, ModelLicence? licence, double gpuSeconds)
    {
        var row = new StoredImage
        {
            OwnerId = job.OwnerId,
            JobId = job.Id,
            ModelId = job.Settings.ModelId,
            LicenceId = licence?.Id,
            CommercialUse = licence?.CommercialUse,
            Seed = result.Seed,
            Prompt = job.Settings.Prompt,
            RelativePath = "",
            ContentType = "image/png",
            Sha256 = "",
            WatermarkSerial = finished.Serial,
            SafetyVerdict = finished.Safety.Verdict.ToString(),
            NsfwScore = finished.Safety.NsfwProbability,
        };
        // Final writes run to completion even while the server stops: the GPU work is done.
        await images.WriteOutputFileAsync(row, job.Id, lease.Epoch, finished.Png, result.Width, result.Height, CancellationToken.None);
        bool recorded;
        try
        {
            recorded = await RecordSuccessAsync(job, row, gpuSeconds);
        }
        catch
        {
            // Not recorded, so not kept: the job ends failed and its file must not linger without a row.
            images.DeleteUnrecordedFile(row);
            throw;
        }

        if (!recorded)
        {
            // A late result: the job was taken back and belongs to another run, whose file has its own name.
            images.DeleteUnrecordedFile(row);
        }
    }

    /// <summary>The image row, the job's success and the GPU-seconds in one transaction; false (and nothing kept) when the lease was lost.</summary>
    private async Task<bool> RecordSuccessAsync(Job job, StoredImage row, double gpuSeconds)
    {
        // Before the success is written, so a result that will not go on its board says so in the job itself.
        var autoAddPlan = await autoAdd.PlanAsync(job.Id, job.OwnerId, job.AutoAddBoardId);
        var now = Now;
        await using var db = await contexts.CreateDbContextAsync(CancellationToken.None);
        await using var transaction = await db.Database.BeginTransactionAsync(CancellationToken.None);
        db.Images.Add(row);
        await db.SaveChangesAsync(CancellationToken.None);
        if (!await JobTransitions.SucceedAsync(db, lease, row.Id, gpuSeconds, now, autoAddPlan.Notice, CancellationToken.None))
        {
            // Disposing the transaction uncommitted takes the image row back out.
            OnLeaseLost();
            return false;
        }

        await quotas.ChargeGpuSecondsAsync(db, job.OwnerId, gpuSeconds, CancellationToken.None);
        await transaction.CommitAsync(CancellationToken.None);
        LogSucceeded(logger, job.Id, gpuSeconds);
        // After the commit and only when this run recorded the result: once per job, and never a reason to fail it.
        await autoAdd.CompleteAsync(job.Id, job.OwnerId, autoAddPlan, row.Id);

        events.Publish(new JobEvent(JobEventKind.Succeeded, job.Id, job.OwnerId, JobState.Succeeded, now)
        {
            Step = job.TotalSteps,
            TotalSteps = job.TotalSteps,
            OutputImageId = row.Id,
            OutputUrl = JobUrls.Image(row.Id),
        });
        return true;
    }

    /// <summary>
    /// Failed or cancelled: the image is given back to the quota, the GPU time that was used is charged.
    /// While the database refuses the write (a full disk) it is tried again, with growing pauses, until it
    /// goes through or the server stops: the job must not stay "Running" until its lease runs out and it runs again.
    /// </summary>
    private async Task EndAsync(Job job, JobState state, JobEventKind kind, string? error, double gpuSeconds)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await RecordEndAsync(job, state, kind, error, gpuSeconds);
                return;
            }
            catch (Exception ex) when (!stopping.IsCancellationRequested)
            {
                LogEndNotRecorded(logger, ex, job.Id, attempt, delay);
                if (IsDatabaseFull(ex) && error == UnexpectedFailure)
                {
                    error = DatabaseFull;
                }
            }

            try
            {
                // Real time, not the AppClock: a fake clock in tests must not stall the retry.
                await Task.Delay(delay, stopping);
            }
            catch (OperationCanceledException)
            {
                // Stopping: the row stays Running until its lease expires and a sweeper takes the job back.
                return;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRecordRetryDelay.Ticks));
        }
    }

    /// <summary>The database's "disk is full" (SQLite's SQLITE_FULL, PostgreSQL's 53100) or the image store's, however it was wrapped.</summary>
    private static bool IsDatabaseFull(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            if (DatabaseDialect.IsStorageFull(e) || ImageStorageException.IsDiskFull(e))
            {
                return true;
            }
        }

        return false;
    }

    private async Task RecordEndAsync(Job job, JobState state, JobEventKind kind, string? error, double gpuSeconds)
    {
        var now = Now;
        await using var db = await contexts.CreateDbContextAsync(CancellationToken.None);
        if (state == JobState.Cancelled)
        {
            var cancelledBy = await db.Jobs.Where(j => j.Id == job.Id).Select(j => j.CancelledBy).SingleOrDefaultAsync(CancellationToken.None);
            error = cancelledBy is null || cancelledBy == job.OwnerId ? "Cancelled by you." : "Cancelled by an administrator.";
        }

        await using var transaction = await db.Database.BeginTransactionAsync(CancellationToken.None);
        if (!await JobTransitions.EndAsync(db, lease, state, error, gpuSeconds, now, CancellationToken.None))
        {
            OnLeaseLost();
            return;
        }

        await QuotaService.RefundImageAsync(db, job, CancellationToken.None);
        if (gpuSeconds > 0)
        {
            await quotas.ChargeGpuSecondsAsync(db, job.OwnerId, gpuSeconds, CancellationToken.None);
        }

        await transaction.CommitAsync(CancellationToken.None);
        LogEnded(logger, job.Id, state, error);
        events.Publish(new JobEvent(kind, job.Id, job.OwnerId, state, now) { Error = error, TotalSteps = job.TotalSteps });
    }

    /// <summary>The server is stopping: the job goes back to the queue, and the interrupted run does not count as an attempt.</summary>
    private async Task RequeueAsync(Job job)
    {
        await using var db = await contexts.CreateDbContextAsync(CancellationToken.None);
        if (!await JobTransitions.RequeueAsync(db, lease, CancellationToken.None))
        {
            OnLeaseLost();
            return;
        }

        LogRequeued(logger, job.Id);
        events.Publish(new JobEvent(JobEventKind.Requeued, job.Id, job.OwnerId, JobState.Queued, Now) { TotalSteps = job.TotalSteps });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} started (attempt {Attempt})")]
    private static partial void LogStarted(ILogger logger, Guid jobId, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} succeeded after {GpuSeconds:0.###} GPU-seconds")]
    private static partial void LogSucceeded(ILogger logger, Guid jobId, double gpuSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} ended {State}: {Reason}")]
    private static partial void LogEnded(ILogger logger, Guid jobId, JobState state, string? reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The engine failed job {JobId} ({Failure})")]
    private static partial void LogEngineFailed(ILogger logger, Exception exception, Guid jobId, InferenceFailure failure);

    [LoggerMessage(Level = LogLevel.Error, Message = "The output of job {JobId} could not be stored")]
    private static partial void LogOutputNotStored(ILogger logger, Exception exception, Guid jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not record how job {JobId} ended (attempt {Attempt}); trying again in {Delay}")]
    private static partial void LogEndNotRecorded(ILogger logger, Exception exception, Guid jobId, int attempt, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} failed unexpectedly")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, Guid jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} was interrupted by shutdown and is queued again")]
    private static partial void LogRequeued(ILogger logger, Guid jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Result of job {JobId} from worker {WorkerId} (epoch {Epoch}) rejected: the job was reclaimed")]
    private static partial void LogRejected(ILogger logger, Guid jobId, string workerId, long epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not renew the lease of job {JobId} for worker {WorkerId} (epoch {Epoch}); trying again")]
    private static partial void LogRenewalFailed(ILogger logger, Exception exception, Guid jobId, string workerId, long epoch);
}
