using System.Threading.Channels;
using FluxWeb.Application.Accounts;
using FluxWeb.Application.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Cluster;

/// <summary>The silo's address names the process: unique in the cluster, new on every start, and the prefix of its workers' ids.</summary>
internal sealed class SiloWorkerNode(ILocalSiloDetails silo) : IWorkerNode
{
    public string NodeId => silo.SiloAddress.ToParsableString();

    public string HostName { get; } = Environment.MachineName;
}

/// <summary>
/// This process in the cluster: it reports its workers to the dispatcher (on every change, and on a heartbeat
/// so a new dispatcher activation learns them), passes local queue changes to it, and receives what the
/// dispatcher sends (offers for its workers, cancels, queue positions, other nodes' live events) through a grain
/// observer. Started after the silo, stopped before it.
/// </summary>
internal sealed partial class ClusterNode(
    IGrainFactory grains,
    IClusterMembershipService membership,
    IWorkerNode node,
    IServiceProvider services,
    JobQueueSignal queueSignal,
    JobEvents events,
    QueuePositions positions,
    RunningJobs runningJobs,
    LiveJobBoard board,
    ClusterRelay relay,
    AccountChanges accountChanges,
    IOptions<ClusterSettings> settings,
    ILogger<ClusterNode> logger) : IHostedService, INodeObserver, IDisposable
{
    private readonly Channel<bool> changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly CancellationTokenSource stopping = new();
    private JobWorkers? workers;
    private INodeObserver? reference;
    private Task loops = Task.CompletedTask;

    private IJobDispatcherGrain Dispatcher => grains.GetGrain<IJobDispatcherGrain>(0);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        workers = services.GetService<JobWorkers>();
        reference = grains.CreateObjectReference<INodeObserver>(this);
        foreach (var worker in workers?.Workers ?? [])
        {
            worker.Changed += _ => changed.Writer.TryWrite(true);
        }

        await ReportAsync();
        loops = Task.WhenAll(
            Task.Run(ReportLoopAsync, CancellationToken.None),
            Task.Run(ForwardQueueChangesAsync, CancellationToken.None),
            Task.Run(WatchMembershipAsync, CancellationToken.None));
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (reference is null)
        {
            return;
        }

        await stopping.CancelAsync();
        await loops;
        try
        {
            await Dispatcher.Leave(node.NodeId).WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Stopping anyway: the dispatcher forgets a silent process after three heartbeats.
            LogLeaveFailed(logger, ex);
        }

        // Once: a host may be stopped twice (a test factory's dispose after its stop).
        if (Interlocked.Exchange(ref reference, null) is { } observer)
        {
            try
            {
                grains.DeleteObjectReference<INodeObserver>(observer);
            }
            catch (ArgumentException)
            {
                // The silo's runtime already dropped it while stopping.
            }
        }
    }

    public void Dispose() => stopping.Dispose();

    public Task<bool> Offer(string workerId, Guid jobId) => Task.FromResult(workers?.Find(workerId)?.Offer(jobId) ?? false);

    public Task Cancel(Guid jobId)
    {
        runningJobs.Cancel(jobId);
        return Task.CompletedTask;
    }

    public Task Positions(List<Guid> order, List<string> owners, DateTime nowUtc)
    {
        var byJob = new Dictionary<Guid, string>(order.Count);
        for (var i = 0; i < order.Count; i++)
        {
            byJob[order[i]] = owners[i];
        }

        positions.Publish(order, byJob, nowUtc);
        return Task.CompletedTask;
    }

    public Task Deliver(JobEventMessage jobEvent)
    {
        var received = jobEvent.ToEvent();
        // The board first: a subscriber handed the event's preview URL may ask for it at once.
        var preview = jobEvent.Preview is { Length: > 0 and <= RelayedPreviews.MaxBytes } png ? png : null;
        board.ApplyRelayed(received, preview is null ? null : jobEvent.PreviewStep, preview);
        events.PublishLocal(received);
        return Task.CompletedTask;
    }

    public Task AccountChanged(AccountChangeMessage change)
    {
        accountChanges.PublishLocal(change.ToChange());
        return Task.CompletedTask;
    }

    public Task Peers(int nodes)
    {
        relay.Nodes = nodes;
        return Task.CompletedTask;
    }

    public Task Forgotten()
    {
        LogForgotten(logger);
        changed.Writer.TryWrite(true);
        return Task.CompletedTask;
    }

    public Task<bool> SetDraining(string workerId, bool draining)
    {
        if (workers?.Find(workerId) is not { } worker)
        {
            return Task.FromResult(false);
        }

        worker.SetDraining(draining);
        LogDraining(logger, workerId, draining);
        return Task.FromResult(true);
    }

    private async Task ReportAsync()
    {
        var report = new NodeReport(node.NodeId, node.HostName, [.. (workers?.Workers ?? []).Select(w => WorkerReport.From(w.Status()))]);
        await Dispatcher.Report(report, reference!);
    }

    /// <summary>One report at a time, the latest state each time: a report never overtakes a newer one.</summary>
    private async Task ReportLoopAsync()
    {
        var token = stopping.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                using var heartbeat = CancellationTokenSource.CreateLinkedTokenSource(token);
                heartbeat.CancelAfter(settings.Value.WorkerHeartbeat);
                try
                {
                    await changed.Reader.ReadAsync(heartbeat.Token);
                }
                catch (OperationCanceledException) when (!token.IsCancellationRequested)
                {
                }

                await ReportAsync();
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                LogReportFailed(logger, ex);
                await PauseAsync(token);
            }
        }
    }

    private async Task ForwardQueueChangesAsync()
    {
        var token = stopping.Token;
        while (!token.IsCancellationRequested)
        {
            try
            {
                await queueSignal.WaitAsync(Timeout.InfiniteTimeSpan, token);
                await Dispatcher.QueueChanged();
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The dispatcher polls the queue anyway; the change is only picked up later.
                LogForwardFailed(logger, ex);
                await PauseAsync(token);
            }
        }
    }

    /// <summary>
    /// When the cluster declares a silo dead (it stopped answering its probes, e.g. after kill -9), the dispatcher
    /// forgets its workers at once instead of after three missed heartbeats, and the jobs they held are requeued
    /// without waiting for their leases. Every silo says so; forgetting or reclaiming twice changes nothing.
    /// </summary>
    private async Task WatchMembershipAsync()
    {
        var token = stopping.Token;
        var told = new HashSet<SiloAddress>();
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(token))
            {
                foreach (var (address, member) in snapshot.Members)
                {
                    if (member.Status == SiloStatus.Dead && told.Add(address))
                    {
                        LogSiloDead(logger, address.ToParsableString());
                        try
                        {
                            await Dispatcher.Leave(address.ToParsableString());
                            // Its jobs go back to the queue now, not when their leases expire. Every silo does this;
                            // the reclaim is conditional on the epoch it saw, so only one of them takes each job back.
                            await services.GetRequiredService<JobReclaimer>().ReclaimWorkerAsync(
                                JobWorkerIds.NodePrefix(address.ToParsableString()), "The worker running this job stopped unexpectedly too many times, so it was not tried again.", token);
                        }
                        catch (Exception ex) when (ex is not OperationCanceledException)
                        {
                            told.Remove(address);
                            LogForwardFailed(logger, ex);
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
    }

    private static async Task PauseAsync(CancellationToken token)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(1), token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not report this process's workers to the dispatcher; trying again")]
    private static partial void LogReportFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "The dispatcher no longer knows this process (a call it did not answer in time, or the dispatcher's activation ended); reporting again now")]
    private static partial void LogForgotten(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not tell the dispatcher that the queue changed; its next poll will see it")]
    private static partial void LogForwardFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not tell the dispatcher that this process stops")]
    private static partial void LogLeaveFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The cluster declared silo {Node} dead; the dispatcher forgets its workers")]
    private static partial void LogSiloDead(ILogger logger, string node);

    [LoggerMessage(Level = LogLevel.Information, Message = "Worker {WorkerId} draining: {Draining}")]
    private static partial void LogDraining(ILogger logger, string workerId, bool draining);
}

/// <summary>
/// Cancels and live events for the cluster's other processes, through the dispatcher. Events go out in order,
/// one at a time, off the publisher's thread; with no other process (the single box) nothing is sent at all.
/// </summary>
/// <remarks>
/// Step previews live in the memory of the process that runs the job, but the owner's page may be served by
/// another. So a progress event whose preview changed carries the preview itself, as the PNG this process would
/// serve (encoded here, on the relay's loop, not on the engine's thread), and the receivers keep it in their
/// <see cref="LiveJobBoard"/> under the same owner check and expiry as their own jobs' previews. Pushed rather than
/// fetched on demand: a web node would otherwise need a route to the worker that runs each job and a call per
/// request per tab, while a push costs one send per step that every node's tabs share. Each event carries the picture
/// of its own step, taken when the event is queued (the relay may be behind the engine), at most one per step, none
/// over <see cref="RelayedPreviews.MaxBytes"/> (the latent preview is at most 256² pixels, well under it). An event
/// whose preview was not sent points at the last one that was, so the URL a receiver delivers always names a picture
/// it has.
/// </remarks>
internal sealed partial class ClusterRelay(IGrainFactory grains, IWorkerNode node, LiveJobBoard board, IClusterMembershipService membership, ILogger<ClusterRelay> logger) : IJobClusterRelay, IAccountChangeRelay
{
    private readonly Channel<(JobEventMessage Message, PreviewSnapshot? Preview)> outgoing =
        Channel.CreateUnbounded<(JobEventMessage, PreviewSnapshot?)>(new UnboundedChannelOptions { SingleReader = true });

    private readonly RelayedPreviews previews = new();
    private int sending;
    private int nodes = 1;

    /// <summary>Processes in the cluster, this one included, as the dispatcher last announced (<see cref="INodeObserver.Peers"/>).</summary>
    public int Nodes
    {
        get => Volatile.Read(ref nodes);
        set => Volatile.Write(ref nodes, value);
    }

    /// <summary>
    /// Another process may need to hear: the dispatcher's last count said so, or this silo's own membership view knows
    /// another active silo. Either alone has failed: the count arrives from the dispatcher, and a process it has
    /// forgotten for a while (a `Peers` call that timed out under load, a clock that jumped past three heartbeats) is
    /// not told of the silos that join meanwhile, so the cancels and live events of its jobs stayed home (the queue
    /// scenarios' cancels on three silos timed out with the job still running); the membership view may lag a newcomer
    /// by a gossip round. A single box is a one-silo cluster either way and sends nothing.
    /// </summary>
    private bool OthersListening => Nodes > 1 || membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active) > 1;

    public void CancelElsewhere(Guid jobId)
    {
        if (OthersListening)
        {
            _ = SendAsync(() => grains.GetGrain<IJobDispatcherGrain>(0).Cancel(jobId, node.NodeId));
        }
    }

    /// <summary>Sent as it comes, not queued behind live events: ending an account's sessions must not wait for previews.</summary>
    public void Forward(AccountChange change)
    {
        if (OthersListening)
        {
            _ = SendAsync(() => grains.GetGrain<IJobDispatcherGrain>(0).RelayAccountChange(AccountChangeMessage.From(change), node.NodeId));
        }
    }

    public void Forward(JobEvent jobEvent)
    {
        if (!OthersListening)
        {
            return;
        }

        // On the publisher's thread, right after the step's progress was recorded: the picture of this event's step.
        var preview = jobEvent is { Kind: JobEventKind.Progress, PreviewUrl: not null } ? board.LatestPreview(jobEvent.JobId)?.SnapshotPreview() : null;
        outgoing.Writer.TryWrite((JobEventMessage.From(jobEvent), preview));
        if (Interlocked.Exchange(ref sending, 1) == 0)
        {
            _ = Task.Run(DrainAsync);
        }
    }

    private async Task DrainAsync()
    {
        while (outgoing.Reader.TryRead(out var next))
        {
            var withPreview = previews.Attach(next.Message, next.Preview);
            await SendAsync(() => grains.GetGrain<IJobDispatcherGrain>(0).Relay(withPreview, node.NodeId));
        }

        Volatile.Write(ref sending, 0);
        // An event written after the last read but before the flag was cleared starts no loop of its own.
        if (outgoing.Reader.TryPeek(out _) && Interlocked.Exchange(ref sending, 1) == 0)
        {
            await DrainAsync();
        }
    }

    private async Task SendAsync(Func<Task> send)
    {
        try
        {
            await send();
        }
        catch (Exception ex)
        {
            // A lost event is reconciled from the database by the pages; a lost cancel by the row's flag.
            LogRelayFailed(logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not pass a cancel, a live event or an account change to the cluster's other processes")]
    private static partial void LogRelayFailed(ILogger logger, Exception exception);
}
