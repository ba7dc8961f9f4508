using FluxWeb.Domain.Accounts;
using FluxWeb.Persistence.Accounts;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Accounts;

/// <summary>
/// Creates accounts for every door (registration page, CLI, later the admin pages) so the
/// first-admin rule and the registration switch live in one place.
/// </summary>
public sealed partial class AccountService(
    UserManager<FluxUser> users,
    RoleManager<IdentityRole> roles,
    IOptions<AccountOptions> options,
    ILogger<AccountService> logger)
{
    // Serialises "is there an admin yet?" + "make this user admin" so two simultaneous first
    // registrations cannot both become admin. One process owns the database file.
    private static readonly SemaphoreSlim BootstrapLock = new(1, 1);

    public async Task EnsureRolesAsync()
    {
        foreach (var role in Roles.All)
        {
            if (!await roles.RoleExistsAsync(role))
            {
                var result = await roles.CreateAsync(new IdentityRole(role));
                if (!result.Succeeded)
                {
                    throw new InvalidOperationException($"Could not create role '{role}': {Describe(result)}");
                }
            }
        }
    }

    public async Task<bool> AdminExistsAsync() => (await users.GetUsersInRoleAsync(Roles.Admin)).Count > 0;

    public async Task<bool> IsRegistrationOpenAsync() => options.Value.Registration switch
    {
        RegistrationMode.Open => true,
        RegistrationMode.Closed => false,
        _ => !await AdminExistsAsync(),
    };

    /// <summary>Self-registration through the UI. The first account becomes admin while none exists.</summary>
    public async Task<(AccountResult Result, bool BecameAdmin)> RegisterAsync(string email, string password)
    {
        await BootstrapLock.WaitAsync();
        try
        {
            if (!await IsRegistrationOpenAsync())
            {
                return (AccountResult.Fail("Registration is closed on this server. Ask an administrator for an account."), false);
            }

            var becomeAdmin = !await AdminExistsAsync();
            var result = await CreateAsync(email, password, becomeAdmin ? Roles.Admin : Roles.User, AccountType.Commercial);
            if (result.Succeeded && becomeAdmin)
            {
                LogFirstAdmin(logger, result.UserId!);
            }

            return (result, result.Succeeded && becomeAdmin);
        }
        finally
        {
            BootstrapLock.Release();
        }
    }

    /// <summary><c>fluxweb users create-admin</c>: refuses an e-mail that already has an account.</summary>
    public async Task<AccountResult> CreateAdminAsync(string email, string password)
    {
        await BootstrapLock.WaitAsync();
        try
        {
            var result = await CreateAsync(email, password, Roles.Admin, AccountType.Commercial);
            if (result.Succeeded)
            {
                LogAdminCreated(logger, result.UserId!);
            }

            return result;
        }
        finally
        {
            BootstrapLock.Release();
        }
    }

    public async Task<AccountResult> CreateAsync(string email, string password, string role, AccountType accountType)
    {
        email = email.Trim();
        if (!Roles.All.Contains(role))
        {
            return AccountResult.Fail($"Unknown role '{role}'. Use one of: {string.Join(", ", Roles.All)}.");
        }

        if (!new System.ComponentModel.DataAnnotations.EmailAddressAttribute().IsValid(email))
        {
            return AccountResult.Fail($"'{email}' is not a valid e-mail address.");
        }

        await EnsureRolesAsync();
        if (await users.FindByEmailAsync(email) is not null)
        {
            return AccountResult.Fail($"An account with the e-mail '{email}' already exists.");
        }

        var user = new FluxUser
        {
            UserName = email,
            Email = email,
            EmailConfirmed = true,
            AccountType = accountType,
            CreatedUtc = DateTimeOffset.UtcNow,
        };

        var created = await users.CreateAsync(user, password);
        if (!created.Succeeded)
        {
            return AccountResult.Fail(Describe(created));
        }

        var inRole = await users.AddToRoleAsync(user, role);
        if (!inRole.Succeeded)
        {
            await users.DeleteAsync(user);
            return AccountResult.Fail(Describe(inRole));
        }

        LogCreated(logger, user.Id, role, accountType);
        return AccountResult.Ok(user.Id);
    }

    private static string Describe(IdentityResult result) =>
        string.Join(" ", result.Errors.Select(e => e.Description.TrimEnd('.') + "."));

    [LoggerMessage(Level = LogLevel.Information, Message = "Account {UserId} created with role {Role} and account type {AccountType}")]
    private static partial void LogCreated(ILogger logger, string userId, string role, AccountType accountType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "No admin existed: the first registered account {UserId} was made Admin")]
    private static partial void LogFirstAdmin(ILogger logger, string userId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Admin account {UserId} created from the command line")]
    private static partial void LogAdminCreated(ILogger logger, string userId);
}
