using System.Globalization;
using FluxWeb.Application.Accounts;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Time;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Persistence.Quotas;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Administration;

/// <summary>One account as the admin pages and <c>fluxweb users list</c> show it.</summary>
public sealed record UserSummary(
    string Id,
    string Email,
    string Role,
    AccountType AccountType,
    bool Disabled,
    bool LockedOut,
    DateTimeOffset CreatedUtc,
    QuotaOverride Quota,
    int ActiveApiKeys);

/// <summary>
/// A user's quota overrides as an administrator edits them. Per value: null inherits the role's
/// default, a negative value is unlimited, zero or more is the limit (the <c>UserQuotas</c> row).
/// </summary>
public sealed record QuotaOverride(int? ImagesPerDay, double? GpuSecondsPerDay, int? MaxQueuedJobs)
{
    public static QuotaOverride Inherit { get; } = new(null, null, null);

    /// <summary>Reads "", "default" (inherit), "unlimited" or a number; null when the text is none of them.</summary>
    public static bool TryParse(string? text, out double? value)
    {
        text = text?.Trim();
        value = null;
        if (string.IsNullOrEmpty(text) || string.Equals(text, "default", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (string.Equals(text, "unlimited", StringComparison.OrdinalIgnoreCase))
        {
            value = -1;
            return true;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && number >= 0 && double.IsFinite(number))
        {
            value = number;
            return true;
        }

        return false;
    }

    public static string Describe(double? value) => value switch
    {
        null => "role default",
        < 0 => "unlimited",
        _ => value.Value.ToString("0.##", CultureInfo.InvariantCulture),
    };
}

/// <summary>What an administrator changes about one account; null members stay as they are.</summary>
public sealed record UserChange
{
    public string? Role { get; init; }

    public AccountType? AccountType { get; init; }

    public bool? Disabled { get; init; }

    /// <summary>Replaces all three overrides at once (so an inherited value can be set back to null).</summary>
    public QuotaOverride? Quota { get; init; }

    public string? NewPassword { get; init; }

    /// <summary>Required to switch an account with non-commercial outputs to Commercial: the admin has been told they become unavailable to it.</summary>
    public bool ConfirmOutputsUnavailable { get; init; }
}

public sealed record UserChangeResult(bool Succeeded, string? Error, IReadOnlyList<string> Changes, int NonCommercialOutputsNeedingConfirmation = 0)
{
    public static UserChangeResult Fail(string error) => new(false, error, []);
}

/// <summary>
/// Account administration for the admin pages and the CLI (one place, so both audit alike and keep
/// the same guards: the last enabled administrator cannot be demoted or disabled). A singleton
/// that opens a scope per operation for Identity's user manager, so no database context outlives
/// one call (the admin pages are long-lived circuits). Every call checks that its actor is an
/// administrator now (<see cref="AdminAuthorization"/>); a role change, disabling or a password
/// reset ends the account's sessions (<see cref="AccountSessions.EndAllAsync"/>), and so does deleting it.
/// </summary>
public sealed partial class UserAdministration(
    IServiceScopeFactory scopes,
    IDbContextFactory<FluxWebDbContext> contexts,
    AdminAuthorization admins,
    AccountSessions sessions,
    AccountDeletion deletion,
    AuditLog audit,
    AppClock time,
    ILogger<UserAdministration> logger)
{
    public const int MaxListed = 500;

    public async Task<IReadOnlyList<UserSummary>> SearchAsync(ChangeActor actor, string? search = null, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        return await SearchUncheckedAsync(search, cancellationToken);
    }

    private async Task<IReadOnlyList<UserSummary>> SearchUncheckedAsync(string? search, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var query = db.Users.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(search))
        {
            var normalized = search.Trim().ToUpperInvariant();
            query = query.Where(u => u.NormalizedEmail!.Contains(normalized));
        }

        var users = await query.OrderBy(u => u.NormalizedEmail).Take(MaxListed)
            .Select(u => new { u.Id, u.Email, u.AccountType, u.Disabled, u.LockoutEnd, u.CreatedUtc })
            .ToListAsync(cancellationToken);
        var ids = users.Select(u => u.Id).ToList();
        var roles = await db.UserRoles.Where(ur => ids.Contains(ur.UserId))
            .Join(db.Roles, ur => ur.RoleId, r => r.Id, (ur, r) => new { ur.UserId, r.Name })
            .ToListAsync(cancellationToken);
        var quotas = await db.UserQuotas.AsNoTracking().Where(q => ids.Contains(q.UserId)).ToDictionaryAsync(q => q.UserId, cancellationToken);
        var keys = await db.ApiKeys.Where(k => ids.Contains(k.UserId) && k.RevokedUtc == null)
            .GroupBy(k => k.UserId).Select(g => new { g.Key, Count = g.Count() })
            .ToDictionaryAsync(g => g.Key, g => g.Count, cancellationToken);
        var now = time.GetUtcNow();
        return users.Select(u =>
        {
            var userRoles = roles.Where(r => r.UserId == u.Id).Select(r => r.Name!).ToList();
            var quota = quotas.GetValueOrDefault(u.Id);
            return new UserSummary(
                u.Id,
                u.Email ?? "",
                userRoles.Contains(Roles.Admin) ? Roles.Admin : userRoles.FirstOrDefault() ?? "",
                u.AccountType,
                u.Disabled,
                u.LockoutEnd > now,
                u.CreatedUtc,
                quota is null ? QuotaOverride.Inherit : new QuotaOverride(quota.ImagesPerDay, quota.GpuSecondsPerDay, quota.MaxQueuedJobs),
                keys.GetValueOrDefault(u.Id));
        }).ToList();
    }

    public async Task<UserSummary?> FindByEmailAsync(string email, ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        var normalized = email.Trim().ToUpperInvariant();
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var id = await db.Users.Where(u => u.NormalizedEmail == normalized).Select(u => u.Id).SingleOrDefaultAsync(cancellationToken);
        return id is null ? null : await GetUncheckedAsync(id, cancellationToken);
    }

    public async Task<UserSummary?> GetAsync(string userId, ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        return await GetUncheckedAsync(userId, cancellationToken);
    }

    private async Task<UserSummary?> GetUncheckedAsync(string userId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var email = await db.Users.Where(u => u.Id == userId).Select(u => u.Email).SingleOrDefaultAsync(cancellationToken);
        return email is null ? null : (await SearchUncheckedAsync(email, cancellationToken)).FirstOrDefault(u => u.Id == userId);
    }

    /// <summary>How many of the account's stored outputs come from non-commercial models: what a switch to Commercial takes away from it.</summary>
    public async Task<int> NonCommercialOutputsAsync(string userId, ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        return await NonCommercialOutputsUncheckedAsync(userId, cancellationToken);
    }

    private async Task<int> NonCommercialOutputsUncheckedAsync(string userId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        // Outputs only: an extension's canvas carries its output's licence too, but it is an input, not one more picture lost.
        return await db.Images.Where(i => i.OwnerId == userId && i.Kind == StoredImageKind.Output).CountAsync(LicenceQueries.NonCommercialOutput, cancellationToken);
    }

    public async Task<AccountResult> CreateAsync(string email, string password, string role, AccountType accountType, ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        await using var scope = scopes.CreateAsyncScope();
        var result = await scope.ServiceProvider.GetRequiredService<AccountService>().CreateAsync(email, password, role, accountType);
        if (result.Succeeded)
        {
            await audit.RecordAsync(new AuditEntry(AuditActions.AdminChange, actor.UserId)
            {
                TargetUserId = result.UserId,
                Detail = $"Created the account {email.Trim()} (role {role}, account type {accountType}).",
                Channel = actor.Channel,
            }, cancellationToken);
        }

        return result;
    }

    /// <summary>Applies <paramref name="change"/> to one account: all of it, or (on a refusal) none of what follows the refusal. Each applied part is audited.</summary>
    public async Task<UserChangeResult> ChangeAsync(string userId, UserChange change, ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        await using var scope = scopes.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>();
        var user = await users.FindByIdAsync(userId);
        if (user is null)
        {
            return UserChangeResult.Fail("No such account.");
        }

        var email = user.Email ?? user.Id;
        var currentRoles = await users.GetRolesAsync(user);
        var isAdmin = currentRoles.Contains(Roles.Admin);

        // Refusals first, so a change is either whole or not started.
        if (change.Role is { } role && !Roles.All.Contains(role))
        {
            return UserChangeResult.Fail($"Unknown role '{role}'. Use one of: {string.Join(", ", Roles.All)}.");
        }

        var losesAdmin = isAdmin && ((change.Role is { } newRole && newRole != Roles.Admin) || (change.Disabled == true && !user.Disabled));
        if (losesAdmin && await deletion.OtherEnabledAdminsAsync(userId, cancellationToken) == 0)
        {
            return UserChangeResult.Fail($"{email} is the only enabled administrator: make another account administrator first.");
        }

        if (change.AccountType == AccountType.Commercial && user.AccountType == AccountType.NonCommercial && !change.ConfirmOutputsUnavailable)
        {
            var outputs = await NonCommercialOutputsUncheckedAsync(userId, cancellationToken);
            if (outputs > 0)
            {
                return new UserChangeResult(false, UnavailableWarning(email, outputs), [], outputs);
            }
        }

        if (change.Quota is { } quota && (quota.ImagesPerDay is > 1_000_000 || quota.MaxQueuedJobs is > 100_000 || quota.GpuSecondsPerDay is > 1e9))
        {
            return UserChangeResult.Fail("A quota that large is meant as unlimited: use 'unlimited' instead.");
        }

        var changes = new List<string>();
        // A new role, a disabled account or a new password ends every session the account has open.
        var endSessions = false;
        async Task<UserChangeResult> StoppedAsync(IdentityResult failure)
        {
            if (endSessions)
            {
                await EndSessionsAsync(users, user);
            }

            return new UserChangeResult(false, Describe(failure), changes);
        }

        if (change.NewPassword is { } password)
        {
            var token = await users.GeneratePasswordResetTokenAsync(user);
            var reset = await users.ResetPasswordAsync(user, token, password);
            if (!reset.Succeeded)
            {
                return UserChangeResult.Fail(Describe(reset));
            }

            // A forgotten password often comes with a lockout; the new one should work at once.
            await users.SetLockoutEndDateAsync(user, null);
            await users.ResetAccessFailedCountAsync(user);
            changes.Add("password reset");
            endSessions = true;
        }

        if (change.Role is { } targetRole && !(currentRoles.Count == 1 && currentRoles[0] == targetRole))
        {
            var removed = await users.RemoveFromRolesAsync(user, currentRoles);
            endSessions |= removed.Succeeded;
            var added = removed.Succeeded ? await users.AddToRoleAsync(user, targetRole) : removed;
            if (!added.Succeeded)
            {
                return await StoppedAsync(added);
            }

            changes.Add($"role {string.Join("/", currentRoles)} → {targetRole}");
        }

        if (change.AccountType is { } accountType && accountType != user.AccountType)
        {
            var before = user.AccountType;
            user.AccountType = accountType;
            var updated = await users.UpdateAsync(user);
            if (!updated.Succeeded)
            {
                return await StoppedAsync(updated);
            }

            var outputs = before == AccountType.NonCommercial ? await NonCommercialOutputsUncheckedAsync(userId, cancellationToken) : 0;
            changes.Add(outputs > 0
                ? $"account type {before} → {accountType} ({outputs} non-commercial output{(outputs == 1 ? "" : "s")} kept but no longer available to the account)"
                : $"account type {before} → {accountType}");
        }

        if (change.Disabled is { } disabled && disabled != user.Disabled)
        {
            user.Disabled = disabled;
            var updated = await users.UpdateAsync(user);
            if (!updated.Succeeded)
            {
                return await StoppedAsync(updated);
            }

            endSessions |= disabled;
            changes.Add(disabled ? "disabled" : "enabled");
        }

        if (change.Quota is { } quotaChange)
        {
            var described = await SetQuotaAsync(userId, quotaChange, cancellationToken);
            if (described is not null)
            {
                changes.Add(described);
            }
        }

        if (endSessions)
        {
            await EndSessionsAsync(users, user);
        }

        foreach (var what in changes)
        {
            LogChanged(logger, userId, what);
            await audit.RecordAsync(new AuditEntry(AuditActions.AdminChange, actor.UserId)
            {
                TargetUserId = userId,
                Detail = $"Changed {email}: {what}.",
                Channel = actor.Channel,
            }, CancellationToken.None);
        }

        return new UserChangeResult(true, null, changes);
    }

    /// <summary>
    /// Deletes an account and everything it made (<see cref="AccountDeletion"/>): its jobs (a running one is cancelled
    /// first, so no worker stores an image for an account that is gone), its images of every kind with their files and
    /// thumbnails (also where they were shared or on others' boards), boards, shares, presets, API keys, quota and usage
    /// rows and sessions. Refused for the last enabled administrator, and for one's own account (that is deleted from
    /// the account page, with its password). <paramref name="confirmEmail"/> must be the account's e-mail: nothing
    /// brings an account back.
    /// </summary>
    public async Task<UserChangeResult> DeleteAsync(string userId, string confirmEmail, ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        await using var scope = scopes.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>();
        var user = await users.FindByIdAsync(userId);
        if (user is null)
        {
            return UserChangeResult.Fail("No such account.");
        }

        var email = user.Email ?? user.Id;
        if (!AccountDeletion.ConfirmsEmail(confirmEmail, email))
        {
            return UserChangeResult.Fail($"Type the account's e-mail, {email}, to confirm. Deleting it cannot be undone.");
        }

        if (string.Equals(actor.UserId, userId, StringComparison.Ordinal))
        {
            return UserChangeResult.Fail("You cannot delete your own account here: delete it from your account page, which asks for your password.");
        }

        if (await deletion.IsOnlyEnabledAdministratorAsync(users, user, cancellationToken))
        {
            return UserChangeResult.Fail($"{email} is the only enabled administrator: make another account administrator first.");
        }

        var (error, what) = await deletion.DeleteCheckedAsync(users, user, cancellationToken);
        if (error is not null)
        {
            return UserChangeResult.Fail(error);
        }

        LogChanged(logger, userId, what);
        await audit.RecordAsync(new AuditEntry(AuditActions.AdminChange, actor.UserId)
        {
            TargetUserId = userId,
            TargetEmail = email,
            Detail = $"Deleted {email}: {what}.",
            Channel = actor.Channel,
        }, CancellationToken.None);
        return new UserChangeResult(true, null, [what]);
    }

    /// <summary>
    /// The new stamp refuses the account's cookies and circuits that remember the old role or
    /// password; deleting its sessions refuses them on the very next request, in every process.
    /// </summary>
    private async Task EndSessionsAsync(UserManager<FluxUser> users, FluxUser user)
    {
        await users.UpdateSecurityStampAsync(user);
        await sessions.EndAllAsync(user.Id, CancellationToken.None);
    }

    public static string UnavailableWarning(string email, int outputs) =>
        $"{email} has {outputs} image{(outputs == 1 ? "" : "s")} made by non-commercial models. As a Commercial account it can no longer view, download, export or reuse {(outputs == 1 ? "it" : "them")}; they are kept and stay visible to administrators. Confirm to go ahead.";

    /// <summary>Writes the overrides; a row with nothing left to override is removed. Returns what changed, or null.</summary>
    private async Task<string?> SetQuotaAsync(string userId, QuotaOverride quota, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var row = await db.UserQuotas.SingleOrDefaultAsync(q => q.UserId == userId, cancellationToken);
        var before = row is null ? QuotaOverride.Inherit : new QuotaOverride(row.ImagesPerDay, row.GpuSecondsPerDay, row.MaxQueuedJobs);
        var normalized = new QuotaOverride(
            quota.ImagesPerDay is < 0 ? -1 : quota.ImagesPerDay,
            quota.GpuSecondsPerDay is < 0 ? -1 : quota.GpuSecondsPerDay,
            quota.MaxQueuedJobs is < 0 ? -1 : quota.MaxQueuedJobs);
        if (before == normalized)
        {
            return null;
        }

        if (normalized == QuotaOverride.Inherit)
        {
            if (row is not null)
            {
                db.UserQuotas.Remove(row);
            }
        }
        else
        {
            row ??= db.UserQuotas.Add(new UserQuota { UserId = userId }).Entity;
            row.ImagesPerDay = normalized.ImagesPerDay;
            row.GpuSecondsPerDay = normalized.GpuSecondsPerDay;
            row.MaxQueuedJobs = normalized.MaxQueuedJobs;
            row.UpdatedUtc = time.GetUtcNow().UtcDateTime;
        }

        await db.SaveChangesAsync(cancellationToken);
        return $"quota images/day {QuotaOverride.Describe(normalized.ImagesPerDay)}, GPU-seconds/day {QuotaOverride.Describe(normalized.GpuSecondsPerDay)}, queued jobs {QuotaOverride.Describe(normalized.MaxQueuedJobs)}";
    }

    private static string Describe(IdentityResult result) =>
        string.Join(" ", result.Errors.Select(e => e.Description.TrimEnd('.') + "."));

    [LoggerMessage(Level = LogLevel.Information, Message = "Account {UserId} changed by an administrator: {Change}")]
    private static partial void LogChanged(ILogger logger, string userId, string change);
}
