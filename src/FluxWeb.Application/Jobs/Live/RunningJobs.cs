using System.Collections.Concurrent;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// Cancellation handles of the jobs this process is running. A handle is registered before the job
/// is claimed, so a cancel that arrives between claim and start is never lost.
/// </summary>
public sealed class RunningJobs
{
    private readonly ConcurrentDictionary<Guid, Handle> handles = new();

    /// <summary>
    /// The job's handle, or null when another worker of this process holds one already (the dispatcher may offer
    /// a job twice while its claim is under way; only one claim can win, and the loser must not touch the winner's handle).
    /// </summary>
    public Handle? Register(Guid jobId, CancellationToken stopping)
    {
        var handle = new Handle(CancellationTokenSource.CreateLinkedTokenSource(stopping));
        if (handles.TryAdd(jobId, handle))
        {
            return handle;
        }

        handle.Dispose();
        return null;
    }

    /// <summary>Removes and disposes <paramref name="handle"/>, if it is still the job's.</summary>
    public void Unregister(Guid jobId, Handle handle)
    {
        if (handles.TryRemove(new KeyValuePair<Guid, Handle>(jobId, handle)))
        {
            handle.Dispose();
        }
    }

    /// <summary>Stops a running job mid-step; false when this process is not running it.</summary>
    public bool Cancel(Guid jobId)
    {
        if (!handles.TryGetValue(jobId, out var handle))
        {
            return false;
        }

        handle.CancelByRequest();
        return true;
    }

    public int Count => handles.Count;

    /// <summary>Whether a run of the job (or its claim) is in progress in this process.</summary>
    public bool Contains(Guid jobId) => handles.ContainsKey(jobId);

    public sealed class Handle(CancellationTokenSource source) : IDisposable
    {
        private int cancelRequested;

        public CancellationToken Token => source.Token;

        /// <summary>True when someone cancelled the job (as opposed to the server shutting down).</summary>
        public bool CancelRequested => Volatile.Read(ref cancelRequested) == 1;

        public void CancelByRequest()
        {
            Interlocked.Exchange(ref cancelRequested, 1);
            Stop();
        }

        /// <summary>Stops the run because its lease was lost: the job is another worker's now, nobody cancelled it.</summary>
        public void Abandon() => Stop();

        private void Stop()
        {
            try
            {
                source.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // The job ended a moment ago.
            }
        }

        public void Dispose() => source.Dispose();
    }
}
