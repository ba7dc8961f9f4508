using FluxWeb.Persistence.Accounts;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Accounts;

/// <summary>
/// Identity's sign-in with one more rule: an account an administrator disabled cannot sign in
/// (Identity answers "not allowed"). And every attempt costs one password-hash check: Identity skips
/// it for an unknown e-mail or a locked or disabled account, which would let a stranger tell those
/// apart from a wrong password by the time the answer takes (the sign-in page's words are the same).
/// </summary>
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
    // Made once per process (hashing costs as much as checking); it records its own algorithm and iterations.
    private static string? decoyHash;

    public override async Task<bool> CanSignInAsync(FluxUser user) => !user.Disabled && await base.CanSignInAsync(user);

    public override async Task<SignInResult> PasswordSignInAsync(string userName, string password, bool isPersistent, bool lockoutOnFailure)
    {
        var user = await UserManager.FindByNameAsync(userName);
        if (user is null)
        {
            VerifyDecoy(password);
            return SignInResult.Failed;
        }

        return await PasswordSignInAsync(user, password, isPersistent, lockoutOnFailure);
    }

    public override async Task<SignInResult> CheckPasswordSignInAsync(FluxUser user, string password, bool lockoutOnFailure)
    {
        // Identity refuses these before it looks at the password.
        var refusedUnchecked = !await CanSignInAsync(user) || (UserManager.SupportsUserLockout && await UserManager.IsLockedOutAsync(user));
        var result = await base.CheckPasswordSignInAsync(user, password, lockoutOnFailure);
        if (refusedUnchecked)
        {
            VerifyDecoy(password);
        }

        return result;
    }

    /// <summary>The work of checking a password, against a hash no password matches.</summary>
    private void VerifyDecoy(string password)
    {
        var decoyUser = new FluxUser();
        decoyHash ??= UserManager.PasswordHasher.HashPassword(decoyUser, Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
        UserManager.PasswordHasher.VerifyHashedPassword(decoyUser, decoyHash, password);
    }
}
