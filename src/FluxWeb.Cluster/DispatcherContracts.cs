using FluxWeb.Application.Accounts;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Jobs;
using FluxWeb.Inference.Pipeline;
using Orleans.Concurrency;

namespace FluxWeb.Cluster;

/// <summary>
/// The cluster's one dispatcher: it runs the fair policy over every worker of every process and offers jobs to
/// idle ones. It keeps nothing it cannot rebuild: the queue is read from the database on every decision, and
/// processes report their workers on every change and on a heartbeat, so a new activation (after a restart or
/// a move to another silo) knows everything again within one heartbeat.
/// </summary>
public interface IJobDispatcherGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// A process's workers as they are now, and where to reach it. Also the heartbeat. A process the dispatcher did not
    /// know is announced to every process (<see cref="INodeObserver.Peers"/>, itself included) before this returns.
    /// </summary>
    Task Report(NodeReport report, INodeObserver node);

    /// <summary>The process stops: forget it and its workers now.</summary>
    Task Leave(string node);

    /// <summary>Jobs were queued or cancelled: decide now instead of at the next poll.</summary>
    Task QueueChanged();

    /// <summary>Stop a running job wherever it runs.</summary>
    Task Cancel(Guid jobId, string fromNode);

    /// <summary>A live event, for the other processes' subscribers.</summary>
    Task Relay(JobEventMessage jobEvent, string fromNode);

    /// <summary>An account changed (sessions ended, a key revoked): the other processes end what they hold open of it.</summary>
    Task RelayAccountChange(AccountChangeMessage change, string fromNode);

    /// <summary>Every worker the dispatcher knows, the dead ones it still remembers included.</summary>
    /// <remarks>An administrator waits for these two: a dispatcher that cannot answer in a few seconds is moving or hung.</remarks>
    [ResponseTimeout(AdminTimeout)]
    Task<List<WorkerReport>> Workers();

    /// <summary>Drain (finish what it holds, take no more) or resume a worker; false when no such worker is alive.</summary>
    [ResponseTimeout(AdminTimeout)]
    Task<bool> SetDraining(string workerId, bool draining);

    /// <summary>How long an administrator's page waits for the dispatcher (it answers from memory, in milliseconds).</summary>
    public const string AdminTimeout = "00:00:05";
}

/// <summary>
/// One process, as the dispatcher reaches it: grain observer made with <c>CreateObjectReference</c>. The dispatcher
/// never waits long on one process (a hung one would stall dispatch for all): what needs no answer and no order is one-way, and
/// what does has a short timeout (<see cref="AnswerTimeout"/>), after which that process is forgotten until it reports.
/// </summary>
public interface INodeObserver : IGrainObserver
{
    /// <summary>
    /// How long the dispatcher waits for a process's answer. A live process answers in milliseconds (the call only
    /// queues the job for a worker thread); this leaves room for a loaded machine's pauses, not for a hung process.
    /// </summary>
    public const string AnswerTimeout = "00:00:03";

    /// <summary>Offer one job to one of its workers; false when that worker has no free slot (or is draining).</summary>
    [ResponseTimeout(AnswerTimeout)]
    Task<bool> Offer(string workerId, Guid jobId);

    /// <summary>Stop the job if it runs here; the row's flag is the backstop for a cancel that is lost.</summary>
    [OneWay]
    Task Cancel(Guid jobId);

    /// <summary>The queue's forecast; the next decision sends a newer one.</summary>
    [OneWay]
    Task Positions(List<Guid> order, List<string> owners, DateTime nowUtc);

    /// <summary>
    /// Another process's live event; the pages reconcile a lost one from the database. Awaited (with the short
    /// timeout), not one-way: one-way calls to an observer may run side by side, and a job's events then reached its
    /// owner out of order (step 2, then 1, then 0), which the pages show as progress going backwards.
    /// </summary>
    [ResponseTimeout(AnswerTimeout)]
    Task Deliver(JobEventMessage jobEvent);

    /// <summary>
    /// How many processes the dispatcher knows now (1: nobody else needs this process's live events). Sent to every
    /// process whenever one joins or leaves, one turn at a time and awaited, so the last count a process received is
    /// the dispatcher's latest, and a process that joined is counted everywhere before its own report returns.
    /// </summary>
    [ResponseTimeout(AnswerTimeout)]
    Task Peers(int nodes);

    /// <summary>
    /// The dispatcher no longer knows this process: a call to it was not answered in time, or the dispatcher's
    /// activation that knew it ended (its silo stopped, or Orleans removed it as a duplicate) and the next one has not
    /// heard from it. The process reports at once and is back, instead of being left out until its next heartbeat; a
    /// hung one never reads this. One-way, so it costs the dispatcher nothing either way.
    /// </summary>
    [OneWay]
    Task Forgotten();

    [ResponseTimeout(AnswerTimeout)]
    Task<bool> SetDraining(string workerId, bool draining);

    /// <summary>
    /// Another process's account change: this process's open pages and hub connections of that account re-check it
    /// now. One-way: the periodic revalidation is the backstop for a lost one.
    /// </summary>
    [OneWay]
    Task AccountChanged(AccountChangeMessage change);
}

[GenerateSerializer, Immutable]
public sealed record NodeReport(
    [property: Id(0)] string Node,
    [property: Id(1)] string Host,
    [property: Id(2)] List<WorkerReport> Workers);

[GenerateSerializer, Immutable]
public sealed record WorkerReport(
    [property: Id(0)] string WorkerId,
    [property: Id(1)] string Node,
    [property: Id(2)] string Host,
    [property: Id(3)] string DeviceId,
    [property: Id(4)] int State,
    [property: Id(5)] bool Draining,
    [property: Id(6)] string? LoadedModelId,
    [property: Id(7)] List<Guid> CurrentJobs,
    [property: Id(8)] int FreeSlots,
    [property: Id(9)] int JobsDone,
    [property: Id(10)] double GpuSeconds,
    [property: Id(11)] DateTime? LastUsedUtc)
{
    public static WorkerReport From(WorkerStatus s) =>
        new(s.WorkerId, s.Node, s.Host, s.DeviceId, (int)s.State, s.Draining, s.LoadedModelId, [.. s.CurrentJobs], s.FreeSlots, s.JobsDone, s.GpuSeconds, s.LastUsedUtc);

    public WorkerStatus ToStatus(WorkerState? state = null) =>
        new(WorkerId, Node, Host, DeviceId, state ?? (WorkerState)State, Draining, LoadedModelId, CurrentJobs, FreeSlots, JobsDone, GpuSeconds, LastUsedUtc);
}

/// <summary>
/// A <see cref="JobEvent"/> on the wire between silos (enums as numbers, so the contract stays in this project). A
/// progress event may carry the job's latest step preview as PNG (<see cref="Preview"/>, of step <see cref="PreviewStep"/>),
/// for the other processes to serve at the event's <see cref="PreviewUrl"/> (see <see cref="ClusterRelay"/>).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record JobEventMessage(
    [property: Id(0)] int Kind,
    [property: Id(1)] Guid JobId,
    [property: Id(2)] string OwnerId,
    [property: Id(3)] int State,
    [property: Id(4)] DateTime AtUtc,
    [property: Id(5)] int? QueuePosition,
    [property: Id(6)] int? Stage,
    [property: Id(7)] int Step,
    [property: Id(8)] int TotalSteps,
    [property: Id(9)] string? PreviewUrl,
    [property: Id(10)] Guid? OutputImageId,
    [property: Id(11)] string? OutputUrl,
    [property: Id(12)] string? Error,
    [property: Id(13)] int? PreviewStep = null,
    [property: Id(14)] byte[]? Preview = null)
{
    public static JobEventMessage From(JobEvent e) =>
        new((int)e.Kind, e.JobId, e.OwnerId, (int)e.State, e.AtUtc, e.QueuePosition, e.Stage is { } stage ? (int)stage : null, e.Step, e.TotalSteps, e.PreviewUrl, e.OutputImageId, e.OutputUrl, e.Error);

    public JobEvent ToEvent() =>
        new((JobEventKind)Kind, JobId, OwnerId, (JobState)State, AtUtc)
        {
            QueuePosition = QueuePosition,
            Stage = Stage is { } stage ? (GenerationStage)stage : null,
            Step = Step,
            TotalSteps = TotalSteps,
            PreviewUrl = PreviewUrl,
            OutputImageId = OutputImageId,
            OutputUrl = OutputUrl,
            Error = Error,
        };
}

/// <summary>An <see cref="AccountChange"/> on the wire between silos (the kind as a number, so the contract stays in this project).</summary>
[GenerateSerializer, Immutable]
public sealed record AccountChangeMessage(
    [property: Id(0)] string UserId,
    [property: Id(1)] int Kind,
    [property: Id(2)] Guid? ApiKeyId)
{
    public static AccountChangeMessage From(AccountChange change) => new(change.UserId, (int)change.Kind, change.ApiKeyId);

    public AccountChange ToChange() => new(UserId, (AccountChangeKind)Kind) { ApiKeyId = ApiKeyId };
}
