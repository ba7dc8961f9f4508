namespace FluxWeb.Application.Jobs;

/// <summary>
/// What a worker holds while it runs a job: the job, who claimed it, and the epoch of that claim. Every
/// write the worker makes to the job while it runs (progress, renewal, how it ended) is made with the
/// lease and counts only while the job is still running under this epoch; once the lease was reclaimed
/// (expired, or the worker's process declared dead) the worker's writes are refused.
/// </summary>
public sealed record JobLease(Guid JobId, string WorkerId, long Epoch);

/// <summary>How workers name themselves in <see cref="Domain.Jobs.Job.WorkerId"/>.</summary>
public static class JobWorkerIds
{
    /// <summary>
    /// <c>{node}/</c>: the prefix of every worker id of one process (its silo address, which names the process's
    /// incarnation), so a process declared dead loses exactly its own jobs
    /// (<see cref="JobReclaimer.ReclaimWorkerAsync"/>). The trailing slash keeps generation 12 from matching 123.
    /// </summary>
    public static string NodePrefix(string nodeId) => nodeId + "/";

    /// <summary><c>{node}/{device}</c>: the worker of one device in one process.</summary>
    public static string ForDevice(string nodeId, string deviceId) => NodePrefix(nodeId) + deviceId;
}
