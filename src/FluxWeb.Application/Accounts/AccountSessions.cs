using System.Security.Claims;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Time;
using FluxWeb.Persistence;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Accounts;

/// <summary>Why a signed-in session is over; shown to the person whose page it was.</summary>
public enum SessionEnd
{
    /// <summary>Signed out, in this or another tab, or the session expired.</summary>
    SignedOut,

    /// <summary>An administrator disabled the account.</summary>
    Disabled,

    /// <summary>An administrator changed the account's role.</summary>
    RoleChanged,

    /// <summary>Password reset or another change that renews the security stamp.</summary>
    AccountChanged,

    /// <summary>The account no longer exists.</summary>
    Deleted,
}

/// <summary>
/// Whether a signed-in principal (a circuit's, a hub connection's) still stands for a live session of
/// an account in the state it was signed in with, and ending all of an account's sessions. The
/// sign-in cookie's server-side sessions live in <c>UserSessions</c>; see the web host's ticket store.
/// </summary>
public sealed class AccountSessions(
    IDbContextFactory<FluxWebDbContext> contexts,
    IOptions<IdentityOptions> identity,
    AccountChanges changes,
    AppClock time)
{
    /// <summary>The claim the ticket store adds to every session's principal: the session's id (the hash of the cookie's key).</summary>
    public const string SessionClaim = "fluxweb:session";

    /// <summary>Null while the session holds; otherwise why it ended.</summary>
    public async Task<SessionEnd?> CheckAsync(ClaimsPrincipal principal, CancellationToken cancellationToken = default)
    {
        var userId = principal.FindFirstValue(ClaimTypes.NameIdentifier);
        if (principal.Identity?.IsAuthenticated != true || string.IsNullOrEmpty(userId))
        {
            return null;
        }

        var sessionId = principal.FindFirstValue(SessionClaim);
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var user = await db.Users.AsNoTracking().Where(u => u.Id == userId)
            .Select(u => new
            {
                u.Disabled,
                u.SecurityStamp,
                IsAdmin = db.UserRoles.Any(ur => ur.UserId == u.Id && db.Roles.Any(r => r.Id == ur.RoleId && r.Name == Roles.Admin)),
                SessionLive = sessionId == null || db.UserSessions.Any(s => s.Id == sessionId && s.UserId == u.Id && (s.ExpiresUtc == null || s.ExpiresUtc > now)),
            })
            .SingleOrDefaultAsync(cancellationToken);
        if (user is null)
        {
            return SessionEnd.Deleted;
        }

        if (user.Disabled)
        {
            return SessionEnd.Disabled;
        }

        if (user.IsAdmin != principal.IsInRole(Roles.Admin))
        {
            return SessionEnd.RoleChanged;
        }

        var stamp = principal.FindFirstValue(identity.Value.ClaimsIdentity.SecurityStampClaimType);
        if (stamp is not null && !string.Equals(stamp, user.SecurityStamp, StringComparison.Ordinal))
        {
            return SessionEnd.AccountChanged;
        }

        return user.SessionLive ? null : SessionEnd.SignedOut;
    }

    /// <summary>
    /// Ends every session of the account at once: its cookies stop working with the next request
    /// (in every process on this database) and open circuits and hub connections are told, in this process and in the
    /// cluster's others.
    /// </summary>
    public async Task EndAllAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await db.UserSessions.Where(s => s.UserId == userId).ExecuteDeleteAsync(cancellationToken);
        changes.Publish(new AccountChange(userId, AccountChangeKind.SessionsEnded));
    }
}
