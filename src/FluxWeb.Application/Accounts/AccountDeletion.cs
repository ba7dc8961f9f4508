using System.Globalization;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Accounts;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Accounts;

/// <summary>What deleting an account takes with it; the account page says so before a person deletes their own.</summary>
public sealed record AccountContents(int Images, int Boards, int Jobs, int ApiKeys);

/// <summary>
/// Deleting an account and everything it made (ADR 0028): by an administrator (<c>UserAdministration.DeleteAsync</c>, which
/// adds its own guards) or by the person themselves from the account page (<see cref="DeleteOwnAsync"/>). Both take the same
/// steps, in one place: the account is disabled, its jobs stop, the database's cascades remove its rows, its files go last,
/// and its open pages end. The audit log and the watermark ledger keep naming it: they trace a copy found later. Nothing
/// brings an account back, so every door asks for its e-mail to be typed again, and no door leaves the box without an
/// enabled administrator.
/// </summary>
public sealed partial class AccountDeletion(
    IServiceScopeFactory scopes,
    IDbContextFactory<FluxWebDbContext> contexts,
    AccountSessions sessions,
    JobService jobs,
    ImageStore images,
    AuditLog audit,
    ILogger<AccountDeletion> logger)
{
    private static readonly TimeSpan RunningJobsWait = TimeSpan.FromSeconds(15);

    public async Task<AccountContents> ContentsAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return new AccountContents(
            await db.Images.CountAsync(i => i.OwnerId == userId, cancellationToken),
            await db.Boards.CountAsync(b => b.OwnerId == userId, cancellationToken),
            await db.Jobs.CountAsync(j => j.OwnerId == userId, cancellationToken),
            await db.ApiKeys.CountAsync(k => k.UserId == userId && k.RevokedUtc == null, cancellationToken));
    }

    /// <summary>
    /// A person deletes their own account. The e-mail typed again says they mean it; the password says it is them and not
    /// someone at a browser left signed in (a wrong one counts towards the sign-in lockout, as at the sign-in page). The only
    /// enabled administrator is refused, so the box keeps one.
    /// </summary>
    public async Task<AccountResult> DeleteOwnAsync(string userId, string password, string confirmEmail, CancellationToken cancellationToken = default)
    {
        await using var scope = scopes.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>();
        var user = await users.FindByIdAsync(userId);
        if (user is null || user.Disabled)
        {
            return AccountResult.Fail("This account no longer exists or has been disabled.");
        }

        var email = user.Email ?? user.Id;
        if (!ConfirmsEmail(confirmEmail, email))
        {
            return AccountResult.Fail($"Type your e-mail, {email}, to confirm. Nothing was deleted.");
        }

        if (await users.IsLockedOutAsync(user))
        {
            return AccountResult.Fail("Too many wrong passwords: the account is locked for a while. Nothing was deleted; try again later.");
        }

        if (!await users.CheckPasswordAsync(user, password))
        {
            await users.AccessFailedAsync(user);
            return AccountResult.Fail("That is not your current password. Nothing was deleted.");
        }

        if (await IsOnlyEnabledAdministratorAsync(users, user, cancellationToken))
        {
            return AccountResult.Fail("You are the only enabled administrator: make another account administrator first, then delete yours. Nothing was deleted.");
        }

        var (error, summary) = await DeleteCheckedAsync(users, user, cancellationToken);
        if (error is not null)
        {
            return AccountResult.Fail(error);
        }

        LogDeletedOwn(logger, userId, summary);
        await audit.RecordAsync(new AuditEntry(AuditActions.AccountDeleted, userId)
        {
            ActorEmail = email,
            TargetUserId = userId,
            TargetEmail = email,
            Detail = $"Deleted own account {email}: {summary}.",
            Channel = "ui",
        }, CancellationToken.None);
        return AccountResult.Ok(userId);
    }

    /// <summary>Whether the account is the only enabled administrator, so it may not be deleted (the account page says so beforehand).</summary>
    public async Task<bool> IsOnlyEnabledAdministratorAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var scope = scopes.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>();
        return await users.FindByIdAsync(userId) is { } user && await IsOnlyEnabledAdministratorAsync(users, user, cancellationToken);
    }

    /// <summary>The typed confirmation names the account (spaces around it and letter case aside, as e-mails are matched at sign-in).</summary>
    internal static bool ConfirmsEmail(string? typed, string email) =>
        string.Equals(typed?.Trim(), email, StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether taking this account away (deleting, disabling or demoting it) would leave no enabled administrator.</summary>
    internal async Task<bool> IsOnlyEnabledAdministratorAsync(UserManager<FluxUser> users, FluxUser user, CancellationToken cancellationToken) =>
        (await users.GetRolesAsync(user)).Contains(Roles.Admin) && await OtherEnabledAdminsAsync(user.Id, cancellationToken) == 0;

    internal async Task<int> OtherEnabledAdminsAsync(string userId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.UserRoles.Where(ur => ur.UserId != userId)
            .Join(db.Roles.Where(r => r.Name == Roles.Admin), ur => ur.RoleId, r => r.Id, (ur, _) => ur.UserId)
            .Join(db.Users.Where(u => !u.Disabled), id => id, u => u.Id, (id, _) => id)
            .CountAsync(cancellationToken);
    }

    /// <summary>
    /// The deletion itself, once the caller's guards have passed. Returns a refusal (the account then stays disabled), or
    /// what went ("account deleted with its 2 images and 3 jobs") for the caller's audit entry.
    /// </summary>
    internal async Task<(string? Error, string Summary)> DeleteCheckedAsync(UserManager<FluxUser> users, FluxUser user, CancellationToken cancellationToken)
    {
        var userId = user.Id;
        var email = user.Email ?? user.Id;
        // Disabled first: nothing new is queued, signed in or called with a key while its jobs stop. Its open pages are
        // told only once it is gone, so they say it was deleted, not disabled.
        if (!user.Disabled)
        {
            user.Disabled = true;
            var disabled = await users.UpdateAsync(user);
            if (!disabled.Succeeded)
            {
                return (Describe(disabled), "");
            }
        }

        List<Guid> unfinished;
        await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
        {
            unfinished = await db.Jobs.Where(j => j.OwnerId == userId && (j.State == JobState.Queued || j.State == JobState.Running))
                .Select(j => j.Id).ToListAsync(cancellationToken);
        }

        var owner = new JobActor(userId, IsAdmin: false);
        foreach (var jobId in unfinished)
        {
            await jobs.CancelAsync(owner, jobId, cancellationToken);
        }

        await WaitForRunningJobsToEndAsync(userId, cancellationToken);

        // Listed once its jobs have stopped, so an image a job committed while stopping is not missed.
        List<string> files;
        int jobCount;
        await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
        {
            files = await db.Images.Where(i => i.OwnerId == userId && i.RelativePath != "").Select(i => i.RelativePath).ToListAsync(cancellationToken);
            jobCount = await db.Jobs.CountAsync(j => j.OwnerId == userId, cancellationToken);
        }

        // The rows first (the database removes what hangs on the account), then the files: a reader never finds a row
        // without its file, and a file left behind is only a file.
        var deleted = await DeleteRowsAsync(userId, cancellationToken);
        if (deleted is not null)
        {
            return ($"{deleted} {email} stays disabled; try again.", "");
        }

        var kept = files.Count(path => !images.DeleteStoredFiles(path));
        // Open pages and hub connections of the account end now, in every process (they find no account).
        await sessions.EndAllAsync(userId, CancellationToken.None);
        return (null, string.Create(CultureInfo.InvariantCulture,
            $"account deleted with its {files.Count} image{(files.Count == 1 ? "" : "s")} and {jobCount} job{(jobCount == 1 ? "" : "s")}{(kept > 0 ? $" ({kept} file{(kept == 1 ? "" : "s")} could not be removed; see the log)" : "")}"));
    }

    /// <summary>
    /// A cancelled job's worker stops within a step, and its last write (the cancellation) must not race the deletion
    /// of the job's row: on PostgreSQL the two deadlocked. Waits in real time, for a bounded while: a worker that hangs
    /// writes nothing, and the deletion then goes ahead (its late result is refused, as a taken-back run's is).
    /// </summary>
    private async Task WaitForRunningJobsToEndAsync(string userId, CancellationToken cancellationToken)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (waited.Elapsed < RunningJobsWait)
        {
            await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
            {
                if (!await db.Jobs.AnyAsync(j => j.OwnerId == userId && j.State == JobState.Running, cancellationToken))
                {
                    return;
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }

    /// <summary>The account's row and, by the database's cascades, everything on it; tried again when it lost to a concurrent write.</summary>
    private async Task<string?> DeleteRowsAsync(string userId, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            // A fresh scope each time: a context whose save failed still tracks what it tried.
            await using var scope = scopes.CreateAsyncScope();
            var users = scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>();
            if (await users.FindByIdAsync(userId) is not { } user)
            {
                return null;
            }

            try
            {
                var deleted = await users.DeleteAsync(user);
                return deleted.Succeeded ? null : Describe(deleted);
            }
            catch (Exception ex) when (attempt < 3 && DatabaseDialect.IsConflict(ex))
            {
                LogDeleteRetried(logger, ex, userId, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), cancellationToken);
            }
        }
    }

    private static string Describe(IdentityResult result) =>
        string.Join(" ", result.Errors.Select(e => e.Description.TrimEnd('.') + "."));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Deleting account {UserId} met a concurrent write (attempt {Attempt}); trying again")]
    private static partial void LogDeleteRetried(ILogger logger, Exception exception, string userId, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Account {UserId} deleted by its owner: {Summary}")]
    private static partial void LogDeletedOwn(ILogger logger, string userId, string summary);
}
