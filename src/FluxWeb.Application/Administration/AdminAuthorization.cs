using FluxWeb.Application.Audit;
using FluxWeb.Domain.Accounts;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Administration;

/// <summary>
/// The administrator check every admin service makes on every call, against the database: the
/// role a circuit or cookie remembers may be minutes old, and an admin's powers end when an admin
/// ends them. The command line (the operator on the server) is not an account and always passes.
/// </summary>
public sealed class AdminAuthorization(IDbContextFactory<FluxWebDbContext> contexts)
{
    public async Task EnsureAsync(ChangeActor actor, CancellationToken cancellationToken = default)
    {
        if (actor.IsCommandLine)
        {
            return;
        }

        if (!await IsCurrentAdminAsync(actor.UserId!, cancellationToken))
        {
            throw new AdminAccessDeniedException();
        }
    }

    /// <summary>An enabled account in the Admin role, now.</summary>
    public async Task<bool> IsCurrentAdminAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Users.Where(u => u.Id == userId && !u.Disabled)
            .Join(db.UserRoles, u => u.Id, ur => ur.UserId, (_, ur) => ur.RoleId)
            .Join(db.Roles.Where(r => r.Name == Roles.Admin), roleId => roleId, r => r.Id, (roleId, _) => roleId)
            .AnyAsync(cancellationToken);
    }
}

/// <summary>The caller is no longer an enabled administrator; nothing was read or changed.</summary>
public sealed class AdminAccessDeniedException()
    : UnauthorizedAccessException("This account is no longer an administrator (its role was changed or it was disabled), so nothing was read or changed.");
