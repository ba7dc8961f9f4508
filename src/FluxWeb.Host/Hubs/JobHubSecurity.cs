using System.Collections.Concurrent;
using System.Security.Claims;
using FluxWeb.Application.Accounts;
using FluxWeb.Application.ApiKeys;
using FluxWeb.Host.Hosting;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace FluxWeb.Host.Hubs;

/// <summary>Who may open the job hub from a web page.</summary>
public sealed class JobHubOptions
{
    public const string SectionName = "Hub";

    /// <summary>
    /// Origins (<c>https://tools.example.com</c>) whose pages may connect besides this site's own.
    /// Clients that send no <c>Origin</c> (scripts with an API key) are not affected.
    /// </summary>
    public string[] AllowedOrigins { get; set; } = [];

    public static bool IsOrigin(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.AbsolutePath == "/" && string.IsNullOrEmpty(uri.Query) && !value.TrimEnd('/').EndsWith('/');
}

/// <summary>
/// Refuses the job hub's negotiate, WebSocket upgrade and polling requests from a foreign page: a
/// browser sends the page's <c>Origin</c>, a script does not. Allowed are requests without one, this
/// site's own host, and <see cref="JobHubOptions.AllowedOrigins"/>. Without this a page on any site
/// could open the hub with a visitor's cookie (cross-site WebSocket hijacking) and read their job events.
/// </summary>
internal static class JobHubOriginCheck
{
    public static IApplicationBuilder UseJobHubOriginCheck(this IApplicationBuilder app) =>
        app.UseWhen(
            context => context.Request.Path.StartsWithSegments(ApiAuthentication.HubPath, StringComparison.OrdinalIgnoreCase),
            hub => hub.Use(async (context, next) =>
            {
                var origin = context.Request.Headers.Origin.ToString();
                var allowed = context.RequestServices.GetRequiredService<IOptionsMonitor<JobHubOptions>>().CurrentValue.AllowedOrigins;
                if (origin.Length == 0 || IsAllowed(origin, context.Request, allowed))
                {
                    await next(context);
                    return;
                }

                await Results.Problem(
                    statusCode: StatusCodes.Status403Forbidden,
                    title: "Cross-site connection refused",
                    detail: $"The job hub accepts pages of this site only, not of {origin}. An operator can allow that site with the setting Hub:AllowedOrigins.").ExecuteAsync(context);
            }));

    public static bool IsAllowed(string origin, HttpRequest request, IReadOnlyList<string> allowed)
    {
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var from) || from.Scheme is not ("http" or "https"))
        {
            // "null" (sandboxed frames, file: pages) and anything unparsable.
            return false;
        }

        if (allowed.Any(a => Uri.TryCreate(a, UriKind.Absolute, out var ok) && Uri.Compare(ok, from, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0))
        {
            return true;
        }

        // This site: the host the browser asked for. The scheme is not compared, so a TLS-terminating proxy
        // (https outside, http here) needs no setting; the port only when the request names one.
        return string.Equals(from.IdnHost, request.Host.Host, StringComparison.OrdinalIgnoreCase)
            && (request.Host.Port is null || request.Host.Port == from.Port);
    }
}

/// <summary>One open hub connection: whose, through which key or session, and how to end it.</summary>
internal sealed record JobHubConnection(HubCallerContext Context, IDisposable Subscription, string UserId, Guid? KeyId, ClaimsPrincipal User);

/// <summary>The open connections with their job-event subscriptions, ended when the connection ends.</summary>
internal sealed class JobHubConnections : IDisposable
{
    private readonly ConcurrentDictionary<string, JobHubConnection> connections = new(StringComparer.Ordinal);

    public int Count => connections.Count;

    public IReadOnlyCollection<JobHubConnection> All => [.. connections.Values];

    public void Add(JobHubConnection connection)
    {
        if (!connections.TryAdd(connection.Context.ConnectionId, connection))
        {
            connection.Subscription.Dispose();
        }
    }

    public void Remove(string connectionId)
    {
        if (connections.TryRemove(connectionId, out var connection))
        {
            connection.Subscription.Dispose();
        }
    }

    /// <summary>Stops the events at once and closes the transport; the hub's disconnect handler removes it.</summary>
    public void Close(JobHubConnection connection)
    {
        connection.Subscription.Dispose();
        connection.Context.Abort();
    }

    public void Dispose()
    {
        foreach (var id in connections.Keys)
        {
            Remove(id);
        }
    }
}

/// <summary>
/// Ends hub connections that no longer stand for a valid key or session: at once when this server
/// revokes a key, disables an account or ends its sessions (<see cref="AccountChanges"/>), and for
/// changes made elsewhere (the CLI) within <see cref="AccountOptions.SessionRevalidationInterval"/>.
/// </summary>
internal sealed partial class JobHubGuard(
    JobHubConnections connections,
    AccountChanges changes,
    AccountSessions sessions,
    ApiKeyService keys,
    IOptions<AccountOptions> options,
    ILogger<JobHubGuard> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var subscription = changes.Subscribe(change => _ = RevalidateAsync(c => c.UserId == change.UserId, stoppingToken));
        using var timer = new PeriodicTimer(options.Value.SessionRevalidationInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await RevalidateAsync(_ => true, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RevalidateAsync(Func<JobHubConnection, bool> which, CancellationToken cancellationToken)
    {
        foreach (var connection in connections.All.Where(which))
        {
            try
            {
                var valid = connection.KeyId is { } keyId
                    ? await keys.IsActiveAsync(keyId, cancellationToken)
                    : await sessions.CheckAsync(connection.User, cancellationToken) is null;
                if (!valid)
                {
                    LogClosed(logger, connection.Context.ConnectionId, connection.UserId, connection.KeyId);
                    connections.Close(connection);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // A busy database must not close anyone's connection; the next round tries again.
                LogCheckFailed(logger, ex, connection.Context.ConnectionId);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Hub connection {ConnectionId} of user {UserId} closed: its key {KeyId} or session is no longer valid")]
    private static partial void LogClosed(ILogger logger, string connectionId, string userId, Guid? keyId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not re-check hub connection {ConnectionId}; trying again at the next interval")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception, string connectionId);
}
