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
/// The push behind "an administrator's change acts at once": open circuits and hub connections subscribe and
/// re-check their account the moment it changes. A change published here also goes to the cluster's other
/// processes (<see cref="IAccountChangeRelay"/>), so a page open on another web node ends at once too. A change
/// made by a process outside the cluster (the CLI on the same data folder) is not pushed; the periodic
/// revalidation (<see cref="AccountOptions.SessionRevalidationInterval"/>) catches it within seconds.
/// </summary>
public sealed partial class AccountChanges(IAccountChangeRelay relay, ILogger<AccountChanges> logger)
{
    private ImmutableList<Action<AccountChange>> handlers = [];

    public IDisposable Subscribe(Action<AccountChange> handler)
    {
        ImmutableInterlocked.Update(ref handlers, list => list.Add(handler));
        return new Subscription(() => ImmutableInterlocked.Update(ref handlers, list => list.Remove(handler)));
    }

    /// <summary>A change made by this process: its own subscribers, then the cluster's other processes.</summary>
    public void Publish(AccountChange change)
    {
        PublishLocal(change);
        relay.Forward(change);
    }

    /// <summary>A change another process of the cluster made (or this one's own): this process's subscribers only.</summary>
    public void PublishLocal(AccountChange change)
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

/// <summary>Where an account change goes beyond this process: the cluster's other processes. Without a cluster, nowhere.</summary>
public interface IAccountChangeRelay
{
    void Forward(AccountChange change);
}

internal sealed class NoAccountChangeRelay : IAccountChangeRelay
{
    public void Forward(AccountChange change)
    {
    }
}
