namespace FluxWeb.Persistence.Accounts;

/// <summary>
/// One signed-in browser session: the sign-in cookie carries only a protected reference to this
/// row, so signing out (or an administrator ending the account's sessions) makes every copy of the
/// cookie worthless at once, in every process that shares the database, and sessions survive restarts.
/// </summary>
public sealed class UserSession
{
    /// <summary>SHA-256 (hex) of the session key in the cookie: the database alone never holds a usable session reference.</summary>
    public string Id { get; set; } = "";

    public string UserId { get; set; } = "";

    public FluxUser? User { get; set; }

    /// <summary>The serialized authentication ticket (claims and properties).</summary>
    public byte[] Ticket { get; set; } = [];

    public DateTime CreatedUtc { get; set; }

    public DateTime RenewedUtc { get; set; }

    /// <summary>When the ticket expires (sliding: moved on by renewals); rows past it are removed.</summary>
    public DateTime? ExpiresUtc { get; set; }
}
