using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using FluxWeb.Application.Accounts;
using FluxWeb.Domain.Time;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Accounts;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Host.Hosting;

/// <summary>
/// Server-side sessions for the sign-in cookie (<see cref="CookieAuthenticationOptions.SessionStore"/>):
/// the cookie holds only a protected random key, the ticket lives in <c>UserSessions</c> under the
/// key's hash. Signing out deletes the row, so a copy of the cookie taken before stops working;
/// an administrator's change deletes all of an account's rows (<see cref="AccountSessions.EndAllAsync"/>);
/// the database survives restarts, so sessions do too. Every principal it hands out carries
/// <see cref="AccountSessions.SessionClaim"/>, so an open circuit can tell whether its session still exists.
/// </summary>
internal sealed class DatabaseTicketStore(IDbContextFactory<FluxWebDbContext> contexts, AppClock time) : ITicketStore
{
    public async Task<string> StoreAsync(AuthenticationTicket ticket) => await StoreAsync(ticket, CancellationToken.None);

    public async Task<string> StoreAsync(AuthenticationTicket ticket, CancellationToken cancellationToken)
    {
        var userId = ticket.Principal.FindFirstValue(ClaimTypes.NameIdentifier)
            ?? throw new InvalidOperationException("A session ticket without a user id cannot be stored.");
        var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        var id = Id(key);
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        // Expired sessions go as new ones arrive: no separate clean-up job, and the table stays small.
        await db.UserSessions.Where(s => s.ExpiresUtc != null && s.ExpiresUtc < now).ExecuteDeleteAsync(cancellationToken);
        db.UserSessions.Add(new UserSession
        {
            Id = id,
            UserId = userId,
            Ticket = Serialize(ticket, id),
            CreatedUtc = now,
            RenewedUtc = now,
            ExpiresUtc = ticket.Properties.ExpiresUtc?.UtcDateTime,
        });
        await db.SaveChangesAsync(cancellationToken);
        return key;
    }

    public async Task RenewAsync(string key, AuthenticationTicket ticket) => await RenewAsync(key, ticket, CancellationToken.None);

    /// <remarks>
    /// The cookie handler renews while it starts a response, passing the request's token. A browser that hangs up
    /// at that moment (an aborted image poll) would cancel this one-row write and turn it into an unhandled error in
    /// Kestrel's log; the renewal is small and keeps the session's expiry true, so it finishes regardless.
    /// </remarks>
    public async Task RenewAsync(string key, AuthenticationTicket ticket, CancellationToken cancellationToken)
    {
        var id = Id(key);
        var now = time.GetUtcNow().UtcDateTime;
        var bytes = Serialize(ticket, id);
        var expires = ticket.Properties.ExpiresUtc?.UtcDateTime;
        await using var db = await contexts.CreateDbContextAsync(CancellationToken.None);
        // Only a session that still exists is renewed: a sign-out racing a renewal must win.
        await db.UserSessions.Where(s => s.Id == id)
            .ExecuteUpdateAsync(set => set.SetProperty(s => s.Ticket, bytes).SetProperty(s => s.ExpiresUtc, expires).SetProperty(s => s.RenewedUtc, now), CancellationToken.None);
    }

    public async Task<AuthenticationTicket?> RetrieveAsync(string key) => await RetrieveAsync(key, CancellationToken.None);

    public async Task<AuthenticationTicket?> RetrieveAsync(string key, CancellationToken cancellationToken)
    {
        var id = Id(key);
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var bytes = await db.UserSessions.AsNoTracking()
            .Where(s => s.Id == id && (s.ExpiresUtc == null || s.ExpiresUtc > now))
            .Select(s => s.Ticket)
            .SingleOrDefaultAsync(cancellationToken);
        return bytes is null ? null : TicketSerializer.Default.Deserialize(bytes);
    }

    public async Task RemoveAsync(string key) => await RemoveAsync(key, CancellationToken.None);

    public async Task RemoveAsync(string key, CancellationToken cancellationToken)
    {
        // Not pushed to open pages: the tab that signs out is leaving already, and a push would race its own
        // redirect (it cannot be told from the others). Other tabs of the session leave at their next re-check.
        var id = Id(key);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await db.UserSessions.Where(s => s.Id == id).ExecuteDeleteAsync(cancellationToken);
    }

    /// <summary>The row's id: the database never holds the key a cookie presents.</summary>
    private static string Id(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private static byte[] Serialize(AuthenticationTicket ticket, string id)
    {
        // A renewal brings a principal rebuilt from the database (security stamp validation), without the claim: add it again.
        if (ticket.Principal.Identity is ClaimsIdentity identity && !identity.HasClaim(c => c.Type == AccountSessions.SessionClaim))
        {
            identity.AddClaim(new Claim(AccountSessions.SessionClaim, id));
        }

        return TicketSerializer.Default.Serialize(ticket);
    }
}
