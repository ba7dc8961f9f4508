using FluxWeb.Application.Quotas;
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
/// This process's queue workers: one per device it serves (<see cref="IDeviceEngines"/>). The only way work
/// reaches a GPU. On start it recovers jobs a crash left running; then each worker runs what the cluster's
/// dispatcher offers it. The dispatcher (which decides) lives in the cluster; this class only runs.
/// </summary>
public sealed partial class JobWorkers : BackgroundService
{
    private readonly IDbContextFactory<FluxWebDbContext> contexts;
    private readonly IOptions<QueueOptions> options;
    private readonly TimeProvider time;
    private readonly ILogger<JobWorkers> logger;

    public JobWorkers(
        IDeviceEngines engines,
        IWorkerNode node,
        IServiceProvider services,
        IDbContextFactory<FluxWebDbContext> contexts,
        IOptions<QueueOptions> options,
        TimeProvider time,
        ILogger<JobWorkers> logger)
    {
        this.contexts = contexts;
        this.options = options;
        this.time = time;
        this.logger = logger;
        var deviceLogger = services.GetRequiredService<ILoggerFactory>().CreateLogger<DeviceWorker>();
        Workers = [.. engines.Engines.Select(e => new DeviceWorker(node.NodeId, node.HostName, e, options.Value.MaxConcurrentJobs, services, deviceLogger))];
    }

    public IReadOnlyList<DeviceWorker> Workers { get; }

    public DeviceWorker? Find(string workerId) => Workers.FirstOrDefault(w => string.Equals(w.WorkerId, workerId, StringComparison.Ordinal));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RecoverAsync(stoppingToken);
                break;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogRecoveryFailed(logger, ex);
                await PauseAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        // Running jobs see the stop through their tokens and put themselves back in the queue.
        await Task.WhenAll(Workers.Select(w => w.RunAsync(stoppingToken)));
    }

    /// <summary>Jobs left running by a crash go back to the queue while they have attempts left, then fail with the reason.</summary>
    private async Task RecoverAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var stale = await db.Jobs.AsNoTracking().Where(j => j.State == JobState.Running).ToListAsync(cancellationToken);
        var now = time.GetUtcNow().UtcDateTime;
        foreach (var job in stale)
        {
            if (job.Attempts < options.Value.MaxAttempts)
            {
                await JobTransitions.RecoverAsync(db, job.Id, cancellationToken);
                LogRecovered(logger, job.Id, job.Attempts);
                continue;
            }

            var reason = $"The server stopped unexpectedly {job.Attempts} times while this job was running, so it was not tried again.";
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            if (await JobTransitions.GiveUpAsync(db, job.Id, reason, now, cancellationToken))
            {
                await QuotaService.RefundImageAsync(db, job, cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
            LogGaveUp(logger, job.Id, job.Attempts);
        }
    }

    private static async Task PauseAsync(CancellationToken stoppingToken)
    {
        try
        {
            // A fixed pause in real time: with a fake clock in tests a TimeProvider delay would never end.
            await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} was left running by a previous run (attempt {Attempts}); queued again")]
    private static partial void LogRecovered(ILogger logger, Guid jobId, int attempts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} was left running {Attempts} times; failed")]
    private static partial void LogGaveUp(ILogger logger, Guid jobId, int attempts);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recovering jobs left running failed; trying again")]
    private static partial void LogRecoveryFailed(ILogger logger, Exception exception);
}
