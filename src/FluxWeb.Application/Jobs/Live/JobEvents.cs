using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Threading.Channels;
using FluxWeb.Application.Images;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// Live job updates for the doors (Blazor circuits, the API hub). Subscriptions are this process's;
/// what is published here also goes to the cluster's other processes (<see cref="IJobClusterRelay"/>),
/// which deliver it to their own subscribers, so an owner sees a job run on any node.
/// </summary>
public interface IJobEvents
{
    /// <summary>Every event of <paramref name="viewer"/>'s own jobs that the viewer's licence lets it receive, in order. Dispose to stop.</summary>
    IDisposable Subscribe(JobActor viewer, Action<JobEvent> handler);

    /// <summary>As <see cref="Subscribe(JobActor, Action{JobEvent})"/>; the next event is delivered once the handler's task ends (e.g. a send to a client).</summary>
    IDisposable Subscribe(JobActor viewer, Func<JobEvent, Task> handler);

    /// <summary>Events of one job, when <paramref name="viewer"/> owns it or is an administrator; null otherwise (not found and not yours look the same).</summary>
    Task<IDisposable?> SubscribeJobAsync(JobActor viewer, Guid jobId, Action<JobEvent> handler, CancellationToken cancellationToken = default);

    /// <summary>Delivers to this process's subscribers and forwards to the cluster's other processes.</summary>
    void Publish(JobEvent jobEvent);

    /// <summary>Whether anyone listens to this user's jobs (lets the worker skip work nobody sees).</summary>
    bool HasSubscribers(string ownerId);
}

/// <summary>
/// Publishing never waits: each subscription has its own queue, drained in order by its own loop.
/// The loop asks <see cref="ImageAccess.JobAsync"/> before it delivers, so an event is
/// licence-checked at the moment it goes out, with the account type as it is then: an account
/// switched to Commercial while its non-commercial job runs receives nothing more of that job (no
/// preview URL, no output id), whatever was already queued.
/// </summary>
public sealed partial class JobEvents(IDbContextFactory<FluxWebDbContext> contexts, ImageAccess access, IJobClusterRelay relay, ILogger<JobEvents> logger) : IJobEvents
{
    private readonly ConcurrentDictionary<string, ImmutableList<Subscription>> byOwner = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Guid, ImmutableList<Subscription>> byJob = new();

    public IDisposable Subscribe(JobActor viewer, Action<JobEvent> handler) =>
        Subscribe(viewer, e =>
        {
            handler(e);
            return Task.CompletedTask;
        });

    public IDisposable Subscribe(JobActor viewer, Func<JobEvent, Task> handler)
    {
        var subscription = new Subscription(access, logger, viewer, handler, s => byOwner.AddOrUpdate(viewer.UserId, [], (_, list) => list.Remove(s)));
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

        var subscription = new Subscription(access, logger, viewer, e =>
        {
            handler(e);
            return Task.CompletedTask;
        }, s => byJob.AddOrUpdate(jobId, [], (_, list) => list.Remove(s)));
        byJob.AddOrUpdate(jobId, [subscription], (_, list) => list.Add(subscription));
        return subscription;
    }

    public bool HasSubscribers(string ownerId) => byOwner.TryGetValue(ownerId, out var list) && !list.IsEmpty;

    public void Publish(JobEvent jobEvent)
    {
        PublishLocal(jobEvent);
        relay.Forward(jobEvent);
    }

    /// <summary>Delivers to this process's subscribers only: an event that came from another node, or one every node makes itself.</summary>
    public void PublishLocal(JobEvent jobEvent)
    {
        if (byOwner.TryGetValue(jobEvent.OwnerId, out var owners))
        {
            owners.ForEach(s => s.Enqueue(jobEvent));
        }

        if (byJob.TryGetValue(jobEvent.JobId, out var watchers))
        {
            watchers.ForEach(s => s.Enqueue(jobEvent));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A job event subscriber failed on {Kind} for job {JobId}")]
    private static partial void LogSubscriberFailed(ILogger logger, Exception exception, Guid jobId, JobEventKind kind);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Job event {Kind} of job {JobId} not delivered to {UserId}: {Reason}")]
    private static partial void LogWithheld(ILogger logger, JobEventKind kind, Guid jobId, string userId, string? reason);

    private sealed class Subscription : IDisposable
    {
        private readonly ImageAccess access;
        private readonly ILogger logger;
        private readonly JobActor viewer;
        private readonly Func<JobEvent, Task> handler;
        private readonly Action<Subscription> remove;
        private readonly Channel<JobEvent> queue = Channel.CreateUnbounded<JobEvent>(new UnboundedChannelOptions { SingleReader = true });
        private readonly CancellationTokenSource stopped = new();
        private int disposed;

        public Subscription(ImageAccess access, ILogger logger, JobActor viewer, Func<JobEvent, Task> handler, Action<Subscription> remove)
        {
            this.access = access;
            this.logger = logger;
            this.viewer = viewer;
            this.handler = handler;
            this.remove = remove;
            _ = Task.Run(DeliverAsync);
        }

        public void Enqueue(JobEvent jobEvent) => queue.Writer.TryWrite(jobEvent);

        private async Task DeliverAsync()
        {
            var token = stopped.Token;
            try
            {
                await foreach (var jobEvent in queue.Reader.ReadAllAsync(token))
                {
                    try
                    {
                        var decision = await access.JobAsync(viewer, jobEvent.JobId, token);
                        if (!decision.Allowed)
                        {
                            LogWithheld(logger, jobEvent.Kind, jobEvent.JobId, viewer.UserId, decision.Reason);
                            continue;
                        }

                        if (Volatile.Read(ref disposed) == 0)
                        {
                            await handler(jobEvent);
                        }
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
                    {
                        // A broken subscriber must not stop its own later events, the worker or the other subscribers.
                        LogSubscriberFailed(logger, ex, jobEvent.JobId, jobEvent.Kind);
                    }
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
            {
                remove(this);
                queue.Writer.TryComplete();
                // Not disposed: the delivery loop may still read its token; a source without a timer holds nothing.
                stopped.Cancel();
            }
        }
    }
}
