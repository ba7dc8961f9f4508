using System.Security.Claims;
using FluxWeb.Application.Accounts;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.Extensions.Options;

namespace FluxWeb.Host.Components.Account;

/// <summary>
/// A circuit's sign-in, re-checked against the database (<see cref="AccountSessions.CheckAsync"/>:
/// account disabled, role or security stamp changed, session signed out) every
/// <see cref="AccountOptions.SessionRevalidationInterval"/>, and at once when this server changes the
/// account (<see cref="AccountChanges"/>). When the session is over the circuit becomes anonymous and
/// <see cref="Ended"/> says why; <c>SessionWatch</c> then sends the browser to the sign-in page with the
/// reason, so an open admin page loses its powers within seconds of the change instead of 30 minutes.
/// </summary>
internal sealed partial class SessionAuthenticationStateProvider : ServerAuthenticationStateProvider, IDisposable
{
    private static readonly Task<AuthenticationState> Anonymous = Task.FromResult(new AuthenticationState(new ClaimsPrincipal(new ClaimsIdentity())));

    private readonly AccountSessions sessions;
    private readonly TimeSpan interval;
    private readonly ILogger<SessionAuthenticationStateProvider> logger;
    private readonly CancellationTokenSource stop = new();
    private readonly IDisposable subscription;
    private readonly Lock gate = new();
    private TaskCompletionSource wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ClaimsPrincipal? watched;
    private bool looping;

    public SessionAuthenticationStateProvider(AccountSessions sessions, AccountChanges changes, IOptions<AccountOptions> options, ILogger<SessionAuthenticationStateProvider> logger)
    {
        this.sessions = sessions;
        this.logger = logger;
        interval = options.Value.SessionRevalidationInterval;
        subscription = changes.Subscribe(OnAccountChanged);
        AuthenticationStateChanged += OnStateChanged;
    }

    /// <summary>Why this circuit's session ended; null while it holds.</summary>
    public SessionEnd? Ended { get; private set; }

    /// <summary>Check the session now instead of at the next interval (an admin service just refused this user).</summary>
    public void RevalidateNow() => Wake();

    private void OnStateChanged(Task<AuthenticationState> state) => _ = WatchAsync(state);

    private async Task WatchAsync(Task<AuthenticationState> state)
    {
        ClaimsPrincipal user;
        try
        {
            user = (await state).User;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            return;
        }

        lock (gate)
        {
            watched = user.Identity?.IsAuthenticated == true ? user : null;
            if (watched is null || looping)
            {
                return;
            }

            looping = true;
        }

        await LoopAsync();
    }

    private async Task LoopAsync()
    {
        var token = stop.Token;
        while (!token.IsCancellationRequested)
        {
            Task woken;
            lock (gate)
            {
                woken = wake.Task;
            }

            try
            {
                await Task.WhenAny(woken, Task.Delay(interval, token));
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            lock (gate)
            {
                if (wake.Task.IsCompleted)
                {
                    wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }

            var user = Volatile.Read(ref watched);
            if (token.IsCancellationRequested || user is null)
            {
                continue;
            }

            SessionEnd? end;
            try
            {
                end = await sessions.CheckAsync(user, token);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // A busy or full database must not sign anyone out; the next round tries again.
                LogCheckFailed(logger, ex);
                continue;
            }

            if (end is { } reason)
            {
                LogEnded(logger, user.FindFirstValue(ClaimTypes.NameIdentifier), reason);
                Ended = reason;
                Volatile.Write(ref watched, null);
                SetAuthenticationState(Anonymous);
                return;
            }
        }
    }

    private void OnAccountChanged(AccountChange change)
    {
        var user = Volatile.Read(ref watched);
        if (user is null || !string.Equals(user.FindFirstValue(ClaimTypes.NameIdentifier), change.UserId, StringComparison.Ordinal))
        {
            return;
        }

        if (change.Kind == AccountChangeKind.SessionsEnded)
        {
            Wake();
        }
    }

    private void Wake()
    {
        lock (gate)
        {
            wake.TrySetResult();
        }
    }

    public void Dispose()
    {
        AuthenticationStateChanged -= OnStateChanged;
        subscription.Dispose();
        stop.Cancel();
        stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The open page of user {UserId} was signed out: {Reason}")]
    private static partial void LogEnded(ILogger logger, string? userId, SessionEnd reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not re-check an open page's session; trying again at the next interval")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception);
}
