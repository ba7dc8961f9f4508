using System.Diagnostics;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Scheduling;
using FluxWeb.Domain.Time;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Cluster;

/// <summary>
/// The singleton dispatcher (key 0). Decides on every queue change, on every worker report that frees a slot and
/// on the poll interval as a backstop; the claim (a conditional update by the worker) stays the truth, so an
/// offer that loses a race costs nothing. Queue positions are forecast here, for the whole cluster, and sent to
/// every process. A process not heard from for three heartbeats is forgotten (its workers are shown dead for a
/// while); one that stops says so.
/// </summary>
[GrainType(TypeName)]
internal sealed partial class JobDispatcherGrain(
    SchedulingSnapshotReader reader,
    IJobSchedulingPolicy policy,
    IOptions<QueueOptions> queue,
    IOptions<ClusterSettings> cluster,
    AppClock time,
    ILogger<JobDispatcherGrain> logger) : Grain, IJobDispatcherGrain
{
    /// <summary>Named, not derived from the class name, so <see cref="DispatcherDirectoryResolver"/> can find it.</summary>
    public const string TypeName = "fluxweb-job-dispatcher";

    public static readonly GrainType DispatcherType = GrainType.Create(TypeName);

    /// <summary>How long a dead worker stays on the admin page.</summary>
    private static readonly TimeSpan DeadKept = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How long an accepted offer keeps its job from being offered again: the worker claims it within
    /// milliseconds; a job still queued after this (its worker's claim failed, or its process died) goes out again.
    /// Measured in real time, not on the <see cref="AppClock"/>: it is a network timeout, and a clock that a
    /// test holds still would otherwise keep a dropped offer's job from ever going out again.
    /// </summary>
    private static readonly TimeSpan OfferHeld = TimeSpan.FromSeconds(5);

    private readonly Dictionary<string, Node> nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<Guid, long> offers = [];
    private readonly Dictionary<string, (WorkerReport Worker, DateTime Since)> dead = new(StringComparer.Ordinal);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        this.RegisterGrainTimer(PollAsync, new GrainTimerCreationOptions(queue.Value.PollInterval, queue.Value.PollInterval) { KeepAlive = true, Interleave = false });
        LogActivated(logger);
        return Task.CompletedTask;
    }

    /// <summary>
    /// This activation ends: its silo stops, something asked for it, or Orleans found a second activation of the
    /// dispatcher and removes this one (on Orleans' own directory a silo that joins can activate its own before the
    /// directory's handoff reaches it, and the handoff then destroys one of the two: docs/decisions/0024 and 0025).
    /// Whichever activation serves next
    /// knows only the processes that reported to it, so every process this one knew is asked to report now: without
    /// that, a process would sit out with idle workers until its next heartbeat while jobs wait for it. One-way, so a
    /// hung process holds up nothing.
    /// </summary>
    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        LogDeactivating(logger, reason.ReasonCode, reason.Description, nodes.Count);
        foreach (var (name, node) in nodes)
        {
            TellForgotten(name, node);
        }

        nodes.Clear();
        return Task.CompletedTask;
    }

    public async Task Report(NodeReport report, INodeObserver observer)
    {
        var known = nodes.ContainsKey(report.Node);
        nodes[report.Node] = new Node(report, observer, Now);
        if (!known)
        {
            // Before anything else: a process that was alone until now must start relaying its live events before
            // the newcomer's report returns (and with it, the newcomer's start, after which its users subscribe).
            await TellPeersAsync();
        }

        foreach (var worker in report.Workers)
        {
            dead.Remove(worker.WorkerId);
            // A job a worker runs was claimed: its offer's hold has done its work. Should the job be queued again
            // (its lease taken back), it must go out at the next decision, not wait out the hold.
            foreach (var jobId in worker.CurrentJobs)
            {
                offers.Remove(jobId);
            }
        }

        if (!known)
        {
            LogJoined(logger, report.Node, report.Workers.Count);
        }

        // A worker with room (new room, or room on its heartbeat): decide now. The heartbeat is a second backstop
        // besides the poll timer (Orleans' timer, on the real clock), so a decision missed between two reports is made
        // at the latest one heartbeat later.
        if (report.Workers.Any(w => w.FreeSlots > 0 && !w.Draining))
        {
            await DispatchAsync();
        }
    }

    public async Task Leave(string node)
    {
        if (nodes.Remove(node, out var gone))
        {
            LogLeft(logger, node);
            foreach (var worker in gone.Report.Workers)
            {
                dead[worker.WorkerId] = (worker, Now);
            }

            await TellPeersAsync();
        }
    }

    public Task QueueChanged() => DispatchAsync();

    public Task Cancel(Guid jobId, string fromNode) => ToOthersAsync(fromNode, n => n.Observer.Cancel(jobId));

    public Task Relay(JobEventMessage jobEvent, string fromNode) => ToOthersAsync(fromNode, n => n.Observer.Deliver(jobEvent));

    public Task RelayAccountChange(AccountChangeMessage change, string fromNode) => ToOthersAsync(fromNode, n => n.Observer.AccountChanged(change));

    /// <summary>Every process the dispatcher knows but the one a message came from, one at a time.</summary>
    private async Task ToOthersAsync(string fromNode, Func<Node, Task> call)
    {
        foreach (var (name, node) in nodes.ToList())
        {
            if (name != fromNode)
            {
                await CallAsync(name, node, call);
            }
        }
    }

    public Task<List<WorkerReport>> Workers()
    {
        ForgetSilent();
        var now = Now;
        foreach (var (id, (_, since)) in dead.ToList())
        {
            if (now - since > DeadKept)
            {
                dead.Remove(id);
            }
        }

        return Task.FromResult(nodes.Values.SelectMany(n => n.Report.Workers)
            .Concat(dead.Values.Select(d => d.Worker with { State = (int)WorkerState.Dead, FreeSlots = 0, CurrentJobs = [] }))
            .OrderBy(w => w.Host, StringComparer.Ordinal).ThenBy(w => w.WorkerId, StringComparer.Ordinal)
            .ToList());
    }

    public async Task<bool> SetDraining(string workerId, bool draining)
    {
        var owner = nodes.Values.FirstOrDefault(n => n.Report.Workers.Any(w => w.WorkerId == workerId));
        if (owner is null)
        {
            return false;
        }

        var done = false;
        await CallAsync(owner.Report.Node, owner, async n => done = await n.Observer.SetDraining(workerId, draining));
        if (done && !draining)
        {
            await DispatchAsync();
        }

        return done;
    }

    private DateTime Now => time.GetUtcNow().UtcDateTime;

    private Task PollAsync(CancellationToken cancellationToken) => DispatchAsync();

    /// <summary>
    /// Decides, and decides again at once when a process could not be reached: its offers went nowhere, and the jobs
    /// planned for it must go to the others now, not at the next report or poll. Each further round follows a process
    /// forgotten, so there are at most as many as processes.
    /// </summary>
    private async Task DispatchAsync()
    {
        for (var rounds = nodes.Count + 1; rounds > 0 && await DispatchRoundAsync(); rounds--)
        {
        }
    }

    /// <returns>Whether a process was forgotten because an offer to it failed.</returns>
    private async Task<bool> DispatchRoundAsync()
    {
        ForgetSilent();
        SchedulingSnapshot snapshot;
        try
        {
            snapshot = await reader.ReadAsync(CancellationToken.None);
        }
        catch (Exception ex)
        {
            // A locked or unreachable database: the next change or poll tries again.
            LogReadFailed(logger, ex);
            return false;
        }

        foreach (var (jobId, at) in offers.ToList())
        {
            if (Stopwatch.GetElapsedTime(at) > OfferHeld)
            {
                offers.Remove(jobId);
            }
        }

        snapshot = snapshot with { Queued = [.. snapshot.Queued.Where(j => !offers.ContainsKey(j.Id))] };
        var idle = nodes.Values.SelectMany(n => n.Report.Workers)
            .Where(w => w.FreeSlots > 0 && !w.Draining)
            .Select(w => new IdleWorker(w.WorkerId, w.LoadedModelId, w.FreeSlots, w.LastUsedUtc))
            .ToList();
        var offered = new HashSet<Guid>();
        var unreachable = false;
        foreach (var assignment in DispatchPlanner.Plan(policy, snapshot, idle))
        {
            var node = nodes.Values.FirstOrDefault(n => n.Report.Workers.Any(w => w.WorkerId == assignment.WorkerId));
            if (node is null)
            {
                continue;
            }

            var accepted = false;
            unreachable |= !await CallAsync(node.Report.Node, node, async n => accepted = await n.Observer.Offer(assignment.WorkerId, assignment.Decision.Job.Id));
            // Until its next report the worker counts as having one slot fewer, whether it took the job or not
            // (a refusal means the report the dispatcher holds is already out of date).
            TakeSlot(node.Report.Node, assignment.WorkerId);
            if (accepted)
            {
                offered.Add(assignment.Decision.Job.Id);
                offers[assignment.Decision.Job.Id] = Stopwatch.GetTimestamp();
                LogOffered(logger, assignment.Decision.Job.Id, assignment.WorkerId, assignment.Decision.Reason);
            }
        }

        if (unreachable)
        {
            return true;
        }

        await PublishPositionsAsync(snapshot, offered);
        return false;
    }

    private void TakeSlot(string nodeName, string workerId)
    {
        if (nodes.TryGetValue(nodeName, out var node))
        {
            var workers = node.Report.Workers.Select(w => w.WorkerId == workerId ? w with { FreeSlots = Math.Max(0, w.FreeSlots - 1) } : w).ToList();
            nodes[nodeName] = node with { Report = node.Report with { Workers = workers } };
        }
    }

    /// <summary>The forecast of the jobs still waiting, for every process; loaded model: the one the next job would find (the most recently used worker's).</summary>
    private async Task PublishPositionsAsync(SchedulingSnapshot snapshot, HashSet<Guid> offered)
    {
        var waiting = snapshot.Queued.Where(j => !offered.Contains(j.Id)).ToList();
        var loaded = nodes.Values.SelectMany(n => n.Report.Workers).OrderByDescending(w => w.LastUsedUtc ?? DateTime.MinValue).FirstOrDefault()?.LoadedModelId;
        var order = QueueForecast.Order(policy, snapshot with { Queued = waiting, LoadedModelId = loaded });
        var owners = waiting.ToDictionary(j => j.Id, j => j.OwnerId);
        var ownersInOrder = order.Select(id => owners[id]).ToList();
        foreach (var (name, node) in nodes.ToList())
        {
            await CallAsync(name, node, n => n.Observer.Positions([.. order], ownersInOrder, snapshot.NowUtc));
        }
    }

    /// <summary>
    /// Every process learns how many there are, from here only: a count a process takes from its own report's answer
    /// would be as old as that report (up to a heartbeat), and a process that started alone would drop the live
    /// events of its jobs for a web node that joined since. Processes forgotten for silence are not announced: a
    /// count too high costs a relay call with nobody to deliver to, never a lost event.
    /// </summary>
    private async Task TellPeersAsync()
    {
        var count = nodes.Count;
        foreach (var (name, node) in nodes.ToList())
        {
            await CallAsync(name, node, n => n.Observer.Peers(count));
        }
    }

    /// <summary>Forgets processes that missed three heartbeats: they crashed or were cut off.</summary>
    private void ForgetSilent()
    {
        var limit = Now - (cluster.Value.WorkerHeartbeat * 3);
        foreach (var (name, node) in nodes.ToList())
        {
            if (node.SeenUtc < limit)
            {
                LogSilent(logger, name);
                Forget(name, node);
            }
        }
    }

    private void Forget(string name, Node node)
    {
        nodes.Remove(name);
        foreach (var worker in node.Report.Workers)
        {
            dead[worker.WorkerId] = (worker, Now);
        }
    }

    /// <summary>
    /// One call to one process; a process that cannot be reached, or does not answer within
    /// <see cref="INodeObserver.AnswerTimeout"/>, is forgotten (its next report brings it back).
    /// </summary>
    /// <returns>Whether the call went through.</returns>
    private async Task<bool> CallAsync(string name, Node node, Func<Node, Task> call)
    {
        try
        {
            await call(node);
            return true;
        }
        catch (Exception ex)
        {
            LogUnreachable(logger, ex, name);
            if (nodes.TryGetValue(name, out var current) && ReferenceEquals(current.Observer, node.Observer))
            {
                Forget(name, current);
                TellForgotten(name, current);
            }

            return false;
        }
    }

    /// <summary>
    /// A process that was only slow to answer (a loaded machine) comes back with its next report; this asks for that
    /// report now, so the jobs it could run do not wait a heartbeat for it. One-way: a hung process costs nothing.
    /// </summary>
    private void TellForgotten(string name, Node node)
    {
        try
        {
            _ = node.Observer.Forgotten();
        }
        catch (Exception ex)
        {
            LogUnreachable(logger, ex, name);
        }
    }

    private sealed record Node(NodeReport Report, INodeObserver Observer, DateTime SeenUtc);

    [LoggerMessage(Level = LogLevel.Information, Message = "The job dispatcher is active; it rebuilds its view from the database and the processes' reports")]
    private static partial void LogActivated(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "The job dispatcher's activation ends ({Reason}: {Description}); the {Nodes} process(es) it knew are asked to report to the next one")]
    private static partial void LogDeactivating(ILogger logger, DeactivationReasonCode reason, string description, int nodes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Process {Node} joined the dispatcher with {Workers} worker(s)")]
    private static partial void LogJoined(ILogger logger, string node, int workers);

    [LoggerMessage(Level = LogLevel.Information, Message = "Process {Node} left the dispatcher")]
    private static partial void LogLeft(ILogger logger, string node);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Process {Node} missed three heartbeats; its workers are forgotten")]
    private static partial void LogSilent(ILogger logger, string node);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Process {Node} could not be reached; its workers are forgotten until it reports again")]
    private static partial void LogUnreachable(ILogger logger, Exception exception, string node);

    [LoggerMessage(Level = LogLevel.Error, Message = "The dispatcher could not read the queue; it tries again on the next change or poll")]
    private static partial void LogReadFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} offered to worker {WorkerId} ({Reason})")]
    private static partial void LogOffered(ILogger logger, Guid jobId, string workerId, PickReason reason);
}
