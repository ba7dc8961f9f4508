using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using FluxWeb.Application.Accounts;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Domain.ApiKeys;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Time;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Administration;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.ApiKeys;

/// <summary>A key as lists show it: never the key itself, which exists only in the creator's hands.</summary>
public sealed record ApiKeyInfo(Guid Id, string Name, ApiKeyScope Scope, string Prefix, DateTime CreatedUtc, DateTime? LastUsedUtc, DateTime? RevokedUtc)
{
    public bool Revoked => RevokedUtc is not null;
}

/// <summary>The one moment the key exists in plain text: returned by <see cref="ApiKeyService.CreateAsync"/>, shown once.</summary>
public sealed record CreatedApiKey(ApiKeyInfo Info, string Key);

/// <summary>Who a presented key belongs to; read fresh on every request, so revocation and disabling act at once.</summary>
public sealed record ApiKeyIdentity(Guid KeyId, string UserId, string? Email, ApiKeyScope Scope);

/// <summary>
/// Per-user API keys: <c>fw_</c> + 8 random characters (the prefix, unique, for lookup and display)
/// + 43 more (256 random bits). Only the SHA-256 of the key is stored; a presented key is found by
/// its prefix and compared in constant time. Every door (account page, admin page, CLI) creates and
/// revokes through here, so each change is audited the same way. An account manages its own keys;
/// anyone else's need an administrator (checked in the database on every call) or the command line.
/// </summary>
public sealed partial class ApiKeyService(
    IDbContextFactory<FluxWebDbContext> contexts,
    AdminAuthorization admins,
    AccountChanges changes,
    AuditLog audit,
    AppClock time,
    ILogger<ApiKeyService> logger)
{
    public const string KeyStart = "fw_";
    public const int MaxNameLength = 100;
    public const int MaxKeysPerUser = 50;

    private const int PrefixRandomChars = 8;
    private const int SecretBytes = 32;

    /// <summary>How stale the shown last-used time may be; bounds the writes a busy key causes.</summary>
    public static readonly TimeSpan LastUsedResolution = TimeSpan.FromMinutes(1);

    public async Task<(CreatedApiKey? Key, string? Error)> CreateAsync(string userId, string name, ApiKeyScope scope, ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await EnsureMayManageAsync(userId, actor, cancellationToken);
        name = name.Trim();
        if (name.Length is 0 or > MaxNameLength)
        {
            return (null, $"Give the key a name of 1 to {MaxNameLength} characters (what it is for, e.g. \"nightly batch\").");
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var owner = await db.Users.AsNoTracking().Where(u => u.Id == userId).Select(u => new { u.Email, u.Disabled }).SingleOrDefaultAsync(cancellationToken);
        if (owner is null)
        {
            return (null, "No such account.");
        }

        if (owner.Disabled)
        {
            return (null, "The account is disabled: it cannot get API keys.");
        }

        var active = await db.ApiKeys.Where(k => k.UserId == userId && k.RevokedUtc == null).Select(k => k.Name).ToListAsync(cancellationToken);
        if (active.Contains(name, StringComparer.OrdinalIgnoreCase))
        {
            return (null, $"The account already has a key named \"{name}\". Revoke it first or choose another name.");
        }

        if (active.Count >= MaxKeysPerUser)
        {
            return (null, $"The account already has {MaxKeysPerUser} keys. Revoke unused ones first.");
        }

        var prefix = KeyStart + RandomString(PrefixRandomChars);
        var key = prefix + Base64Url(RandomNumberGenerator.GetBytes(SecretBytes));
        var row = new ApiKey
        {
            Id = Guid.NewGuid(),
            UserId = userId,
            Name = name,
            Scope = scope,
            Prefix = prefix,
            Hash = Hash(key),
            CreatedUtc = time.GetUtcNow().UtcDateTime,
        };
        db.ApiKeys.Add(row);
        await db.SaveChangesAsync(cancellationToken);

        LogCreated(logger, row.Id, userId, scope);
        await audit.RecordAsync(new AuditEntry(AuditActions.ApiKeyCreated, actor.UserId)
        {
            TargetUserId = userId,
            Detail = $"API key \"{name}\" ({prefix}…, scope {Describe(scope)}) created for {owner.Email}.",
            Channel = actor.Channel,
        }, CancellationToken.None);
        return (new CreatedApiKey(Info(row), key), null);
    }

    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(string userId, ChangeActor actor, bool includeRevoked = true, CancellationToken cancellationToken = default)
    {
        await EnsureMayManageAsync(userId, actor, cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var rows = await db.ApiKeys.AsNoTracking()
            .Where(k => k.UserId == userId && (includeRevoked || k.RevokedUtc == null))
            .ToListAsync(cancellationToken);
        return rows.OrderBy(k => k.RevokedUtc is not null).ThenByDescending(k => k.CreatedUtc).Select(Info).ToList();
    }

    /// <summary>
    /// Revokes one of <paramref name="userId"/>'s keys, by id or by the name of an active key. Effective
    /// for the next request; hub connections opened with it in this process close at once (others
    /// within the revalidation interval).
    /// </summary>
    public async Task<(ApiKeyInfo? Key, string? Error)> RevokeAsync(string userId, Guid? keyId, string? name, ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await EnsureMayManageAsync(userId, actor, cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var candidates = db.ApiKeys.Where(k => k.UserId == userId);
        var row = keyId is { } id
            ? await candidates.SingleOrDefaultAsync(k => k.Id == id, cancellationToken)
            : (await candidates.Where(k => k.RevokedUtc == null).ToListAsync(cancellationToken))
                .SingleOrDefault(k => string.Equals(k.Name, name?.Trim(), StringComparison.OrdinalIgnoreCase));
        if (row is null)
        {
            return (null, keyId is not null ? "No such key for this account." : $"The account has no active key named \"{name}\".");
        }

        if (row.RevokedUtc is null)
        {
            row.RevokedUtc = time.GetUtcNow().UtcDateTime;
            await db.SaveChangesAsync(cancellationToken);
            LogRevoked(logger, row.Id, userId);
            changes.Publish(new AccountChange(userId, AccountChangeKind.ApiKeyRevoked) { ApiKeyId = row.Id });
            var email = await db.Users.Where(u => u.Id == userId).Select(u => u.Email).SingleOrDefaultAsync(cancellationToken);
            await audit.RecordAsync(new AuditEntry(AuditActions.ApiKeyRevoked, actor.UserId)
            {
                TargetUserId = userId,
                Detail = $"API key \"{row.Name}\" ({row.Prefix}…) of {email} revoked.",
                Channel = actor.Channel,
            }, CancellationToken.None);
        }

        return (Info(row), null);
    }

    /// <summary>
    /// The owner of a presented key, or null for a malformed, unknown, revoked key or a disabled
    /// account. No cache: a revoked key fails on the very next request.
    /// </summary>
    public async Task<ApiKeyIdentity?> AuthenticateAsync(string presented, CancellationToken cancellationToken = default)
    {
        var prefixLength = KeyStart.Length + PrefixRandomChars;
        if (presented.Length is < 20 or > 200 || !presented.StartsWith(KeyStart, StringComparison.Ordinal))
        {
            return null;
        }

        var prefix = presented[..prefixLength];
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var found = await db.ApiKeys.AsNoTracking()
            .Where(k => k.Prefix == prefix)
            .Select(k => new { k.Id, k.UserId, k.Hash, k.Scope, k.RevokedUtc, k.LastUsedUtc, k.User!.Email, k.User.Disabled })
            .SingleOrDefaultAsync(cancellationToken);
        if (found is null || !CryptographicOperations.FixedTimeEquals(found.Hash, Hash(presented)) || found.RevokedUtc is not null || found.Disabled)
        {
            return null;
        }

        var now = time.GetUtcNow().UtcDateTime;
        if (found.LastUsedUtc is null || now - found.LastUsedUtc >= LastUsedResolution)
        {
            var stale = now - LastUsedResolution;
            try
            {
                // Conditional, so parallel requests of one script write once.
                await db.ApiKeys.Where(k => k.Id == found.Id && (k.LastUsedUtc == null || k.LastUsedUtc <= stale))
                    .ExecuteUpdateAsync(set => set.SetProperty(k => k.LastUsedUtc, now), cancellationToken);
            }
            catch (Exception ex) when (ex is DbException or DbUpdateException or IOException)
            {
                // Bookkeeping only: a full disk or a locked database must not turn the script's request into an error.
                LogLastUsedNotRecorded(logger, ex, found.Id);
            }
        }

        return new ApiKeyIdentity(found.Id, found.UserId, found.Email, found.Scope);
    }

    /// <summary>Whether a key still works: not revoked, and its account not disabled (the hub re-checks its open connections with this).</summary>
    public async Task<bool> IsActiveAsync(Guid keyId, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.ApiKeys.AnyAsync(k => k.Id == keyId && k.RevokedUtc == null && !k.User!.Disabled, cancellationToken);
    }

    private async Task EnsureMayManageAsync(string userId, ChangeActor actor, CancellationToken cancellationToken)
    {
        if (!string.Equals(actor.UserId, userId, StringComparison.Ordinal))
        {
            await admins.EnsureAsync(actor, cancellationToken);
        }
    }

    public static string Describe(ApiKeyScope scope) => scope == ApiKeyScope.Generate ? "generate" : "read";

    public static bool TryParseScope(string? text, out ApiKeyScope scope)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "generate":
                scope = ApiKeyScope.Generate;
                return true;
            case "read":
                scope = ApiKeyScope.Read;
                return true;
            default:
                scope = ApiKeyScope.Read;
                return false;
        }
    }

    private static ApiKeyInfo Info(ApiKey k) => new(k.Id, k.Name, k.Scope, k.Prefix, k.CreatedUtc, k.LastUsedUtc, k.RevokedUtc);

    private static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string RandomString(int length)
    {
        // Letters and digits only, so the prefix reads and selects as one word.
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        return RandomNumberGenerator.GetString(alphabet, length);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "API key {KeyId} created for user {UserId} with scope {Scope}")]
    private static partial void LogCreated(ILogger logger, Guid keyId, string userId, ApiKeyScope scope);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The last use of API key {KeyId} could not be recorded; the request goes on")]
    private static partial void LogLastUsedNotRecorded(ILogger logger, Exception exception, Guid keyId);

    [LoggerMessage(Level = LogLevel.Information, Message = "API key {KeyId} of user {UserId} revoked")]
    private static partial void LogRevoked(ILogger logger, Guid keyId, string userId);
}
