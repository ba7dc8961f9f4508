using FluxWeb.Domain.Accounts;
using Microsoft.AspNetCore.Identity;

namespace FluxWeb.Persistence.Accounts;

public sealed class FluxUser : IdentityUser
{
    public AccountType AccountType { get; set; } = AccountType.Commercial;

    public DateTimeOffset CreatedUtc { get; set; } = DateTimeOffset.UtcNow;

    /// <summary>
    /// Switched off by an administrator: no sign-in, no API key, no new jobs. Kept apart from
    /// Identity's lockout, which counts failed passwords and ends by itself (an admin unlocking a
    /// locked-out account must not re-enable a disabled one, and the reverse).
    /// </summary>
    public bool Disabled { get; set; }
}
