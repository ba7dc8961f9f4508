namespace FluxWeb.Application.Jobs;

/// <summary>What a queue worker is doing, as <c>/admin/workers</c> shows it.</summary>
public enum WorkerState
{
    Idle,

    /// <summary>Its job is loading a model into the engine.</summary>
    Loading,

    Running,

    /// <summary>Finishing what it holds and taking nothing more (an administrator drained it).</summary>
    Draining,

    /// <summary>Its process is gone (the cluster declared the silo dead, or it stopped answering).</summary>
    Dead,
}

/// <summary>One queue worker (one device of one process) at one moment.</summary>
/// <param name="WorkerId"><c>{node}/{device}</c>: a dead node's jobs are found by the node's prefix.</param>
/// <param name="FreeSlots">Jobs it would accept now; zero while draining.</param>
/// <param name="LastUsedUtc">When it last started a job.</param>
public sealed record WorkerStatus(
    string WorkerId,
    string Node,
    string Host,
    string DeviceId,
    WorkerState State,
    bool Draining,
    string? LoadedModelId,
    IReadOnlyList<Guid> CurrentJobs,
    int FreeSlots,
    int JobsDone,
    double GpuSeconds,
    DateTime? LastUsedUtc);

/// <summary>The process the workers run in, as the cluster names it (the silo's address), so worker ids are unique across the cluster.</summary>
public interface IWorkerNode
{
    /// <summary>Unique among the cluster's live and past processes (a restarted process gets a new one).</summary>
    string NodeId { get; }

    string HostName { get; }
}

/// <summary>A process outside a cluster (a test of the worker alone): named by machine and process id.</summary>
internal sealed class LocalWorkerNode : IWorkerNode
{
    public string NodeId { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{DateTime.UtcNow.Ticks}";

    public string HostName { get; } = Environment.MachineName;
}

/// <summary>
/// What reaches other processes of the cluster: a cancel for a job this process is not running, and the
/// live events of jobs, for owners connected to another web node. Without a cluster both go nowhere.
/// </summary>
public interface IJobClusterRelay
{
    void CancelElsewhere(Guid jobId);

    void Forward(JobEvent jobEvent);
}

internal sealed class NoClusterRelay : IJobClusterRelay
{
    public void CancelElsewhere(Guid jobId)
    {
    }

    public void Forward(JobEvent jobEvent)
    {
    }
}
