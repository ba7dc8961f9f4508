using System.Collections.Concurrent;
using FluxWeb.Application.Jobs;
using FluxWeb.Host.Hosting;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Persistence.Jobs;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;

namespace FluxWeb.Host.Hubs;

/// <summary>
/// One job event as API clients receive it (method <c>jobEvent</c>). No owner id: a client only
/// ever receives its own account's jobs.
/// </summary>
public sealed record JobHubEvent(
    JobEventKind Kind,
    Guid JobId,
    JobState State,
    DateTime AtUtc,
    int? QueuePosition,
    GenerationStage? Stage,
    int Step,
    int TotalSteps,
    string? PreviewUrl,
    Guid? OutputImageId,
    string? OutputUrl,
    string? Error)
{
    public static JobHubEvent From(JobEvent e) =>
        new(e.Kind, e.JobId, e.State, e.AtUtc, e.QueuePosition, e.Stage, e.Step, e.TotalSteps, e.PreviewUrl, e.OutputImageId, e.OutputUrl, e.Error);
}

/// <summary>
/// Live job events for API clients at <c>/api/v1/hub</c>, authenticated like the REST API (an API
/// key as <c>access_token</c> or a bearer header, or the sign-in cookie). On connecting, a client
/// is subscribed to its own account's jobs through <see cref="IJobEvents.Subscribe"/>, which is
/// keyed by owner: there is no method to ask for anyone else's.
/// </summary>
[Authorize(Policy = ApiAuthentication.ApiPolicy)]
internal sealed class JobHub(IJobEvents events, JobHubConnections connections, IHubContext<JobHub> hub) : Hub
{
    public const string EventMethod = "jobEvent";

    public override Task OnConnectedAsync()
    {
        var viewer = JobActor.From(Context.User!) ?? throw new HubException("Not signed in.");
        var connectionId = Context.ConnectionId;
        // Only the owner's subscription, even for an administrator: the admin queue page is where everyone's jobs are seen.
        var owner = new JobActor(viewer.UserId, IsAdmin: false);
        // Each event is licence-checked as it goes out, and sent in order; the worker publishing it never waits for a slow client.
        var subscription = events.Subscribe(owner, e => hub.Clients.Client(connectionId).SendAsync(EventMethod, JobHubEvent.From(e)));
        connections.Add(connectionId, subscription);
        return base.OnConnectedAsync();
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        connections.Remove(Context.ConnectionId);
        return base.OnDisconnectedAsync(exception);
    }
}

/// <summary>The job-event subscription of each hub connection, ended when the connection ends.</summary>
internal sealed class JobHubConnections : IDisposable
{
    private readonly ConcurrentDictionary<string, IDisposable> subscriptions = new(StringComparer.Ordinal);

    public int Count => subscriptions.Count;

    public void Add(string connectionId, IDisposable subscription)
    {
        if (!subscriptions.TryAdd(connectionId, subscription))
        {
            subscription.Dispose();
        }
    }

    public void Remove(string connectionId)
    {
        if (subscriptions.TryRemove(connectionId, out var subscription))
        {
            subscription.Dispose();
        }
    }

    public void Dispose()
    {
        foreach (var id in subscriptions.Keys)
        {
            Remove(id);
        }
    }
}
