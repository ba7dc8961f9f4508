using Microsoft.AspNetCore.Identity;

namespace FluxWeb.Persistence.Accounts;

public sealed class FluxUser : IdentityUser
{
    public AccountType AccountType { get; set; } = AccountType.Commercial;

    public DateTimeOffset CreatedUtc { get; set; } = DateTimeOffset.UtcNow;
}
