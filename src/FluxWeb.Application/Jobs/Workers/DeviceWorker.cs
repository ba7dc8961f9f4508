using System.Collections.Concurrent;
using System.Threading.Channels;
using FluxWeb.Domain.Jobs;
using FluxWeb.Domain.Time;
using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// One queue worker: one device and its engine. It runs what the dispatcher offers, claiming each job with a
/// conditional update (an offer that loses the race to another worker is dropped), in a scope of its own with
/// its device's generator. It takes up to <see cref="QueueOptions.MaxConcurrentJobs"/> jobs at once; a job
/// leaves its slot when the engine returns, so the next one starts while the output is still being stored.
/// Its loop runs on a task of its own, never on the cluster's scheduler: inference must not starve heartbeats.
/// </summary>
public sealed partial class DeviceWorker
{
    private readonly DeviceEngine engine;
    private readonly int slots;
    private readonly IDbContextFactory<FluxWebDbContext> contexts;
    private readonly IServiceScopeFactory scopes;
    private readonly RunningJobs runningJobs;
    private readonly LiveJobBoard board;
    private readonly AppClock time;
    private readonly IOptions<QueueOptions> options;
    private readonly ILogger logger;
    private readonly Channel<Guid> offers = Channel.CreateUnbounded<Guid>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<Guid, Task> running = new();
    private readonly Lock gate = new();

    // Offers accepted and not yet given back: jobs waiting for their claim plus jobs inside the engine.
    private int reserved;
    private bool draining;

    // No offers before the loop runs.
    private bool started;
    private string? loadedModelId;
    private DateTime? lastUsedUtc;
    private int jobsDone;
    private double gpuSeconds;

    internal DeviceWorker(string node, string host, DeviceEngine engine, int slots, IServiceProvider services, ILogger logger)
    {
        this.engine = engine;
        this.slots = slots;
        this.logger = logger;
        Node = node;
        Host = host;
        WorkerId = JobWorkerIds.ForDevice(node, engine.DeviceId);
        contexts = services.GetRequiredService<IDbContextFactory<FluxWebDbContext>>();
        scopes = services.GetRequiredService<IServiceScopeFactory>();
        runningJobs = services.GetRequiredService<RunningJobs>();
        board = services.GetRequiredService<LiveJobBoard>();
        time = services.GetRequiredService<AppClock>();
        options = services.GetRequiredService<IOptions<QueueOptions>>();
    }

    public string WorkerId { get; }

    public string Node { get; }

    public string Host { get; }

    public string DeviceId => engine.DeviceId;

    public IImageGenerator Generator => engine.Generator;

    /// <summary>Raised when what the dispatcher should know changed: a slot freed, a job started, draining set. Never inside the worker's lock.</summary>
    public event Action<DeviceWorker>? Changed;

    /// <summary>
    /// Takes the job if a slot is free and the worker is not draining; false otherwise (the dispatcher offers it
    /// elsewhere, or again later). Also false while an earlier run of the same job is still ending in this process
    /// (its lease was taken back): one run of a job per process keeps its cancel handle and live progress
    /// unambiguous, and a refusal, unlike an accepted offer, does not hold the job back from the next dispatch.
    /// </summary>
    public bool Offer(Guid jobId)
    {
        if (runningJobs.Contains(jobId))
        {
            return false;
        }

        lock (gate)
        {
            if (!started || draining || reserved >= slots)
            {
                return false;
            }

            reserved++;
        }

        offers.Writer.TryWrite(jobId);
        return true;
    }

    /// <summary>Draining: the jobs it holds finish, it accepts no more until resumed.</summary>
    public void SetDraining(bool value)
    {
        lock (gate)
        {
            draining = value;
        }

        Changed?.Invoke(this);
    }

    public WorkerStatus Status()
    {
        lock (gate)
        {
            var current = running.Keys.ToList();
            var state = current.Count == 0
                ? (draining ? WorkerState.Draining : WorkerState.Idle)
                : draining ? WorkerState.Draining
                : current.Any(id => board.Running(id)?.Stage == GenerationStage.LoadingModel) ? WorkerState.Loading
                : WorkerState.Running;
            return new WorkerStatus(WorkerId, Node, Host, DeviceId, state, draining, loadedModelId, current, !started || draining ? 0 : Math.Max(0, slots - reserved), jobsDone, gpuSeconds, lastUsedUtc);
        }
    }

    /// <summary>The worker's loop, until <paramref name="stopping"/>; then it waits for its running jobs, which put themselves back in the queue.</summary>
    internal Task RunAsync(CancellationToken stopping) =>
        Task.Factory.StartNew(() => LoopAsync(stopping), CancellationToken.None, TaskCreationOptions.LongRunning | TaskCreationOptions.DenyChildAttach, TaskScheduler.Default).Unwrap();

    private async Task LoopAsync(CancellationToken stopping)
    {
        lock (gate)
        {
            started = true;
        }

        Changed?.Invoke(this);
        try
        {
            await foreach (var jobId in offers.Reader.ReadAllAsync(stopping))
            {
                try
                {
                    await TryStartAsync(jobId, stopping);
                }
                catch (Exception ex) when (!stopping.IsCancellationRequested)
                {
                    // One bad read (a locked database, a full disk) must not end the worker.
                    // The claim's own failure already gave the slot back.
                    LogOfferFailed(logger, ex, WorkerId, jobId);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }

        await Task.WhenAll(running.Values);
    }

    private async Task TryStartAsync(Guid jobId, CancellationToken stopping)
    {
        // Registered before the claim so a cancel arriving in between finds the handle.
        if (runningJobs.Register(jobId, stopping) is not { } handle)
        {
            // Another worker here is claiming it already.
            Release();
            return;
        }

        (Job Job, JobLease Lease)? claimed = null;
        try
        {
            claimed = await ClaimAsync(jobId, stopping);
        }
        finally
        {
            if (claimed is null)
            {
                runningJobs.Unregister(jobId, handle);
                Release();
            }
        }

        if (claimed is not { Job: var job, Lease: var lease })
        {
            return;
        }

        if (job.CancelRequested)
        {
            handle.CancelByRequest();
        }

        LogPicked(logger, job.Id, job.OwnerId, WorkerId, lease.Epoch, job.Settings.ModelId);
        lock (gate)
        {
            loadedModelId = job.Settings.ModelId;
            lastUsedUtc = time.GetUtcNow().UtcDateTime;
        }

        // The task is in the table before it can finish, so shutdown always waits for it.
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        running[job.Id] = RunJobAsync(start.Task, job, lease, handle, stopping);
        start.SetResult();
        Changed?.Invoke(this);
    }

    /// <summary>
    /// The claim, in one place: the conditional update that makes exactly one worker of the cluster run the job,
    /// taking a lease with a new epoch (<see cref="JobTransitions.ClaimAsync"/>): only this run's writes count
    /// until the lease is lost.
    /// </summary>
    private async Task<(Job Job, JobLease Lease)?> ClaimAsync(Guid jobId, CancellationToken stopping)
    {
        await using var db = await contexts.CreateDbContextAsync(stopping);
        var now = time.GetUtcNow().UtcDateTime;
        if (await JobTransitions.ClaimAsync(db, jobId, WorkerId, now, now + options.Value.LeaseDuration, stopping) is not { } lease)
        {
            return null;
        }

        return (await db.Jobs.AsNoTracking().SingleAsync(j => j.Id == jobId, stopping), lease);
    }

    private async Task RunJobAsync(Task start, Job job, JobLease lease, RunningJobs.Handle handle, CancellationToken stopping)
    {
        await start;
        var slotFree = 0;
        void LeaveEngine()
        {
            if (Interlocked.Exchange(ref slotFree, 1) == 0)
            {
                Release();
            }
        }

        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var seconds = await scope.ServiceProvider.GetRequiredService<JobRunner>().RunAsync(job, lease, engine.Generator, handle, LeaveEngine, stopping);
            lock (gate)
            {
                jobsDone++;
                gpuSeconds += seconds;
            }
        }
        catch (Exception ex)
        {
            // Only the final database write can get here; the row stays Running until its lease expires and the sweeper takes it back.
            LogRunFailed(logger, ex, job.Id);
        }
        finally
        {
            runningJobs.Unregister(job.Id, handle);
            running.TryRemove(job.Id, out _);
            LeaveEngine();
            Changed?.Invoke(this);
        }
    }

    private void Release()
    {
        lock (gate)
        {
            reserved = Math.Max(0, reserved - 1);
        }

        Changed?.Invoke(this);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} of {OwnerId} started on worker {WorkerId} (epoch {Epoch}) with model {ModelId}")]
    private static partial void LogPicked(ILogger logger, Guid jobId, string ownerId, string workerId, long epoch, string modelId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Worker {WorkerId} could not start job {JobId}; it goes on")]
    private static partial void LogOfferFailed(ILogger logger, Exception exception, string workerId, Guid jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} could not record how it ended; it is taken back when its lease expires")]
    private static partial void LogRunFailed(ILogger logger, Exception exception, Guid jobId);
}
