using System.Security.Claims;
using FluxWeb.Domain.Accounts;

namespace FluxWeb.Application.Jobs;

/// <summary>Who is asking: a user sees and cancels their own jobs; an administrator anyone's.</summary>
public sealed record JobActor(string UserId, bool IsAdmin)
{
    public bool MayAccess(string ownerId) => IsAdmin || string.Equals(ownerId, UserId, StringComparison.Ordinal);

    /// <summary>The signed-in user of a request or circuit; null for anonymous principals.</summary>
    public static JobActor? From(ClaimsPrincipal principal)
    {
        var id = principal.FindFirstValue(ClaimTypes.NameIdentifier);
        return principal.Identity?.IsAuthenticated == true && !string.IsNullOrEmpty(id)
            ? new JobActor(id, principal.IsInRole(Roles.Admin))
            : null;
    }
}
