using System.Collections.Concurrent;
using FluxWeb.Application.Scheduling;
using FluxWeb.Domain.Jobs;
using FluxWeb.Inference.Devices;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// The only way work reaches the GPU. It asks the scheduling policy for the next job whenever a slot
/// is free, claims it with a conditional update that takes a lease with a new epoch (so no result is
/// recorded twice; see <see cref="JobTransitions"/>) and runs it in a scope of its own, renewing the lease
/// while it runs. Jobs a crash left running are the lease sweeper's (<see cref="JobLeaseSweeper"/>). It also keeps the
/// queue forecast current and tells owners when their position changes.
/// </summary>
public sealed partial class JobWorker(
    IDbContextFactory<FluxWebDbContext> contexts,
    IServiceScopeFactory scopes,
    IJobSchedulingPolicy policy,
    LiveJobBoard board,
    RunningJobs runningJobs,
    IJobEvents events,
    JobQueueSignal signal,
    IOptions<QueueOptions> options,
    IDeviceEngines devices,
    TimeProvider time,
    ILogger<JobWorker> logger) : BackgroundService
{
    private static readonly TimeSpan ErrorPause = TimeSpan.FromSeconds(1);

    private readonly Lazy<string> workerId = new(() => JobWorkerIds.ForDevice(devices.Engines[0].DeviceId));

    private readonly ConcurrentDictionary<Guid, Task> running = new();
    private string? loadedModelId;

    // Jobs inside the engine. A job leaves it before its output is encoded and stored, so the
    // next job can start while the previous one is still being written.
    private int inEngine;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        // Jobs a crash left running are not this worker's to take back at start: in a cluster they may be
        // another node's, still running. The lease sweeper takes back those whose lease expired.
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ScheduleAsync(stoppingToken);
                await signal.WaitAsync(options.Value.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // One bad read (a locked database, a full disk) must not end the queue.
                LogLoopFailed(logger, ex);
                await PauseAsync(stoppingToken);
            }
        }

        // Running jobs see the stop through their tokens and put themselves back in the queue.
        await Task.WhenAll(running.Values);
    }

    private async Task ScheduleAsync(CancellationToken stoppingToken)
    {
        while (true)
        {
            var snapshot = await ReadSnapshotAsync(stoppingToken);
            var decision = Volatile.Read(ref inEngine) < options.Value.MaxConcurrentJobs ? policy.PickNext(snapshot) : null;
            if (decision is null)
            {
                PublishPositions(snapshot);
                return;
            }

            await TryStartAsync(decision, stoppingToken);
        }
    }

    private async Task<SchedulingSnapshot> ReadSnapshotAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var windowStart = now - options.Value.Scheduling.FairShareWindow;
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var waiting = await db.Jobs.AsNoTracking()
            .Where(j => j.State == JobState.Queued)
            .Select(j => new QueuedJob(j.Id, j.OwnerId, j.Settings.ModelId, j.EnqueuedUtc, j.BatchIndex, j.EstimatedGpuSeconds))
            .ToListAsync(cancellationToken);
        // A job taken back from this worker while its run was still finishing here waits until that run has
        // ended: one run of a job per process keeps the job's cancel handle and live progress unambiguous.
        var queued = waiting.Where(j => !running.ContainsKey(j.Id)).ToList();
        var finished = await db.Jobs.AsNoTracking()
            .Where(j => j.FinishedUtc >= windowStart && j.GpuSeconds > 0)
            .GroupBy(j => j.OwnerId)
            .Select(g => new { Owner = g.Key, Seconds = g.Sum(j => j.GpuSeconds) })
            .ToListAsync(cancellationToken);
        var started = await db.Jobs.AsNoTracking()
            .Where(j => j.StartedUtc >= windowStart)
            .GroupBy(j => j.OwnerId)
            .Select(g => new { Owner = g.Key, Last = g.Max(j => j.StartedUtc) })
            .ToListAsync(cancellationToken);
        var inProgress = await db.Jobs.AsNoTracking()
            .Where(j => j.State == JobState.Running)
            .Select(j => new { j.OwnerId, j.StartedUtc })
            .ToListAsync(cancellationToken);

        var usage = new Dictionary<string, UserUsage>(StringComparer.Ordinal);
        foreach (var owner in finished.Select(f => f.Owner).Concat(started.Select(s => s.Owner)).Concat(inProgress.Select(r => r.OwnerId)).Distinct())
        {
            var seconds = finished.Where(f => f.Owner == owner).Sum(f => f.Seconds)
                + inProgress.Where(r => r.OwnerId == owner && r.StartedUtc is not null).Sum(r => Math.Max(0, (now - r.StartedUtc!.Value).TotalSeconds));
            usage[owner] = new UserUsage(seconds, started.FirstOrDefault(s => s.Owner == owner)?.Last);
        }

        return new SchedulingSnapshot(queued, usage, loadedModelId, now);
    }

    private async Task TryStartAsync(SchedulingDecision decision, CancellationToken stoppingToken)
    {
        var jobId = decision.Job.Id;
        // Registered before the claim so a cancel arriving in between finds the handle.
        var handle = runningJobs.Register(jobId, stoppingToken);
        var now = time.GetUtcNow().UtcDateTime;
        Job? job = null;
        JobLease? lease = null;
        try
        {
            await using var db = await contexts.CreateDbContextAsync(stoppingToken);
            lease = await JobTransitions.ClaimAsync(db, jobId, WorkerId, now, now + options.Value.LeaseDuration, stoppingToken);
            if (lease is not null)
            {
                job = await db.Jobs.AsNoTracking().SingleAsync(j => j.Id == jobId, stoppingToken);
            }
        }
        finally
        {
            if (job is null)
            {
                runningJobs.Unregister(jobId);
            }
        }

        if (job is null || lease is null)
        {
            return;
        }

        if (job.CancelRequested)
        {
            handle.CancelByRequest();
        }

        LogPicked(logger, job.Id, job.OwnerId, decision.Reason, job.Settings.ModelId, lease.WorkerId, lease.Epoch);
        loadedModelId = job.Settings.ModelId;

        // The task is in the table before it can finish, so shutdown always waits for it.
        Interlocked.Increment(ref inEngine);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        running[job.Id] = RunAsync(gate.Task, job, lease, handle, stoppingToken);
        gate.SetResult();
    }

    private async Task RunAsync(Task gate, Job job, JobLease lease, RunningJobs.Handle handle, CancellationToken stoppingToken)
    {
        await gate;
        var engineFree = 0;
        void LeaveEngine()
        {
            if (Interlocked.Exchange(ref engineFree, 1) == 0)
            {
                Interlocked.Decrement(ref inEngine);
                signal.Notify();
            }
        }

        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<JobRunner>().RunAsync(job, lease, handle, LeaveEngine, stoppingToken);
        }
        catch (Exception ex)
        {
            // Only the final database write can get here; the row stays Running until its lease expires and the sweeper takes it back.
            LogRunFailed(logger, ex, job.Id);
        }
        finally
        {
            runningJobs.Unregister(job.Id);
            running.TryRemove(job.Id, out _);
            LeaveEngine();
            signal.Notify();
        }
    }

    /// <summary>Who holds the leases this worker takes: <c>{machine}/{process id}/{device}</c> (one worker, on the process's first device, until issue 18's per-device workers).</summary>
    public string WorkerId => workerId.Value;

    private void PublishPositions(SchedulingSnapshot snapshot)
    {
        var order = QueueForecast.Order(policy, snapshot);
        var owners = snapshot.Queued.ToDictionary(j => j.Id, j => j.OwnerId);
        var now = snapshot.NowUtc;
        foreach (var (jobId, position) in board.ReplacePositions(order))
        {
            var owner = owners[jobId];
            if (events.HasSubscribers(owner))
            {
                events.Publish(new JobEvent(JobEventKind.PositionChanged, jobId, owner, JobState.Queued, now) { QueuePosition = position });
            }
        }
    }

    private static async Task PauseAsync(CancellationToken stoppingToken)
    {
        try
        {
            // A fixed pause in real time: with a fake clock in tests a TimeProvider delay would never end.
            await Task.Delay(ErrorPause, stoppingToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} of {OwnerId} picked ({Reason}) for model {ModelId} by worker {WorkerId} (epoch {Epoch})")]
    private static partial void LogPicked(ILogger logger, Guid jobId, string ownerId, PickReason reason, string modelId, string workerId, long epoch);

    [LoggerMessage(Level = LogLevel.Error, Message = "The job worker's loop failed; it goes on")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} could not record how it ended; it is taken back when its lease expires")]
    private static partial void LogRunFailed(ILogger logger, Exception exception, Guid jobId);
}
