using System.Collections.Concurrent;
using System.Collections.Immutable;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// Live job updates for the doors (Blazor circuits now, an API hub later). In-process; with
/// several worker processes this interface would be backed by a backplane.
/// </summary>
public interface IJobEvents
{
    /// <summary>Every event of <paramref name="viewer"/>'s own jobs. Dispose to stop.</summary>
    IDisposable Subscribe(JobActor viewer, Action<JobEvent> handler);

    /// <summary>Events of one job, when <paramref name="viewer"/> owns it or is an administrator; null otherwise (not found and not yours look the same).</summary>
    Task<IDisposable?> SubscribeJobAsync(JobActor viewer, Guid jobId, Action<JobEvent> handler, CancellationToken cancellationToken = default);

    void Publish(JobEvent jobEvent);

    /// <summary>Whether anyone listens to this user's jobs (lets the worker skip work nobody sees).</summary>
    bool HasSubscribers(string ownerId);
}

public sealed partial class JobEvents(IDbContextFactory<FluxWebDbContext> contexts, ILogger<JobEvents> logger) : IJobEvents
{
    private readonly ConcurrentDictionary<string, ImmutableList<Subscription>> byOwner = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Guid, ImmutableList<Subscription>> byJob = new();

    public IDisposable Subscribe(JobActor viewer, Action<JobEvent> handler)
    {
        var subscription = new Subscription(handler, s => byOwner.AddOrUpdate(viewer.UserId, [], (_, list) => list.Remove(s)));
        byOwner.AddOrUpdate(viewer.UserId, [subscription], (_, list) => list.Add(subscription));
        return subscription;
    }

    public async Task<IDisposable?> SubscribeJobAsync(JobActor viewer, Guid jobId, Action<JobEvent> handler, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var owner = await db.Jobs.Where(j => j.Id == jobId).Select(j => j.OwnerId).SingleOrDefaultAsync(cancellationToken);
        if (owner is null || !viewer.MayAccess(owner))
        {
            return null;
        }

        var subscription = new Subscription(handler, s => byJob.AddOrUpdate(jobId, [], (_, list) => list.Remove(s)));
        byJob.AddOrUpdate(jobId, [subscription], (_, list) => list.Add(subscription));
        return subscription;
    }

    public bool HasSubscribers(string ownerId) => byOwner.TryGetValue(ownerId, out var list) && !list.IsEmpty;

    public void Publish(JobEvent jobEvent)
    {
        if (byOwner.TryGetValue(jobEvent.OwnerId, out var owners))
        {
            Deliver(owners, jobEvent);
        }

        if (byJob.TryGetValue(jobEvent.JobId, out var watchers))
        {
            Deliver(watchers, jobEvent);
        }
    }

    private void Deliver(ImmutableList<Subscription> subscriptions, JobEvent jobEvent)
    {
        foreach (var subscription in subscriptions)
        {
            try
            {
                subscription.Deliver(jobEvent);
            }
            catch (Exception ex)
            {
                // A broken subscriber must not stop the worker or the other subscribers.
                LogSubscriberFailed(logger, ex, jobEvent.JobId, jobEvent.Kind);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A job event subscriber failed on {Kind} for job {JobId}")]
    private static partial void LogSubscriberFailed(ILogger logger, Exception exception, Guid jobId, JobEventKind kind);

    private sealed class Subscription(Action<JobEvent> handler, Action<Subscription> remove) : IDisposable
    {
        private int disposed;

        public void Deliver(JobEvent jobEvent)
        {
            if (Volatile.Read(ref disposed) == 0)
            {
                handler(jobEvent);
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
            {
                remove(this);
            }
        }
    }
}
