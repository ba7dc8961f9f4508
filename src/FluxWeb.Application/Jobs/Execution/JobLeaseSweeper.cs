using FluxWeb.Domain.Time;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// In every process that runs a worker: takes back running jobs whose lease expired
/// (<see cref="JobReclaimer.ReclaimExpiredAsync"/>) at start and then every third of <c>Queue:LeaseDuration</c>.
/// It replaces the old start-up recovery, which queued every running job again: in a cluster that would
/// steal the jobs other nodes are running. A box that crashed gets its jobs back within one lease after it
/// starts again. The pause is measured on the <see cref="AppClock"/>, so a test moves a fake clock past
/// a lease and the sweep follows without real waiting.
/// </summary>
public sealed partial class JobLeaseSweeper(JobReclaimer reclaimer, IOptions<QueueOptions> options, AppClock time, ILogger<JobLeaseSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await reclaimer.ReclaimExpiredAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // A locked or full database: the next sweep tries again.
                LogSweepFailed(logger, ex);
            }

            try
            {
                await Task.Delay(options.Value.LeaseRenewalInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The lease sweeper could not look for expired leases; it tries again")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception);
}
