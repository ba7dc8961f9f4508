using FluxWeb.Persistence.Accounts;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Accounts;

/// <summary>Identity's sign-in with one more rule: an account an administrator disabled cannot sign in (Identity answers "not allowed").</summary>
public sealed class FluxSignInManager(
    UserManager<FluxUser> users,
    IHttpContextAccessor contextAccessor,
    IUserClaimsPrincipalFactory<FluxUser> claimsFactory,
    IOptions<IdentityOptions> options,
    ILogger<SignInManager<FluxUser>> logger,
    IAuthenticationSchemeProvider schemes,
    IUserConfirmation<FluxUser> confirmation)
    : SignInManager<FluxUser>(users, contextAccessor, claimsFactory, options, logger, schemes, confirmation)
{
    public override async Task<bool> CanSignInAsync(FluxUser user) => !user.Disabled && await base.CanSignInAsync(user);
}
