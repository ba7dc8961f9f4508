using System.Security.Claims;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Jobs;
using FluxWeb.Host.Hosting;
using FluxWeb.Inference.Pipeline;
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
        var user = Context.User!;
        var viewer = JobActor.From(user) ?? throw new HubException("Not signed in.");
        var connectionId = Context.ConnectionId;
        // Only the owner's subscription, even for an administrator: the admin queue page is where everyone's jobs are seen.
        var owner = new JobActor(viewer.UserId, IsAdmin: false);
        // Each event is licence-checked as it goes out, and sent in order; the worker publishing it never waits for a slow client.
        var subscription = events.Subscribe(owner, e => hub.Clients.Client(connectionId).SendAsync(EventMethod, JobHubEvent.From(e)));
        // Kept with its key or session, so JobHubGuard can close it once either is revoked.
        var keyId = Guid.TryParse(user.FindFirstValue(ApiAuthentication.KeyIdClaim), out var id) ? id : (Guid?)null;
        connections.Add(new JobHubConnection(Context, subscription, viewer.UserId, keyId, user));
        return base.OnConnectedAsync();
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        connections.Remove(Context.ConnectionId);
        return base.OnDisconnectedAsync(exception);
    }
}
