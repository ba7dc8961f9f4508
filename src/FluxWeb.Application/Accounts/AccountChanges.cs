using System.Collections.Immutable;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Accounts;

public enum AccountChangeKind
{
    /// <summary>Role changed, account disabled, password reset: every session and connection of the account ends.</summary>
    SessionsEnded,

    /// <summary>One API key revoked: the hub connections opened with it end.</summary>
    ApiKeyRevoked,
}

/// <summary>What changed about an account, for whoever holds a session or connection of it open.</summary>
public sealed record AccountChange(string UserId, AccountChangeKind Kind)
{
    public Guid? ApiKeyId { get; init; }
}

/// <summary>
/// The in-process push behind "an administrator's change acts at once": open circuits and hub
/// connections subscribe and re-check their account the moment it changes here. A change made
/// by another process (the CLI on the same data folder) is not pushed; the periodic revalidation
/// (<see cref="AccountOptions.SessionRevalidationInterval"/>) catches it within seconds.
/// </summary>
public sealed partial class AccountChanges(ILogger<AccountChanges> logger)
{
    private ImmutableList<Action<AccountChange>> handlers = [];

    public IDisposable Subscribe(Action<AccountChange> handler)
    {
        ImmutableInterlocked.Update(ref handlers, list => list.Add(handler));
        return new Subscription(() => ImmutableInterlocked.Update(ref handlers, list => list.Remove(handler)));
    }

    public void Publish(AccountChange change)
    {
        foreach (var handler in Volatile.Read(ref handlers))
        {
            try
            {
                handler(change);
            }
            catch (Exception ex)
            {
                // One broken subscriber must not keep the change from the others (or fail the admin's request).
                LogHandlerFailed(logger, ex, change.UserId, change.Kind);
            }
        }
    }

    private sealed class Subscription(Action dispose) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0)
            {
                dispose();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A subscriber failed to handle the change {Kind} of account {UserId}")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception, string userId, AccountChangeKind kind);
}
