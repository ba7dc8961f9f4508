using System.Linq.Expressions;
using FluxWeb.Application.Administration;
using FluxWeb.Domain.Audit;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Audit;

/// <summary>What the audit page filters on; every member optional. Dates are UTC days, inclusive.</summary>
public sealed record AuditFilter(string? User = null, string? Action = null, DateOnly? From = null, DateOnly? To = null);

public sealed record AuditPage(IReadOnlyList<AuditEvent> Events, int Total);

/// <summary>Reads the audit trail for administrators (checked on every call): filtered, newest first, paged, or as CSV.</summary>
public sealed class AuditQuery(IDbContextFactory<FluxWebDbContext> contexts, AdminAuthorization admins)
{
    public const int MaxExportRows = 100_000;

    /// <summary>The actions a filter can choose from (the constants the log writes).</summary>
    public static IReadOnlyList<string> Actions { get; } =
    [
        AuditActions.SignIn, AuditActions.SignInFailed, AuditActions.SignOut, AuditActions.Generate, AuditActions.GenerateRefused,
        AuditActions.LicenceRefused, AuditActions.Download, AuditActions.Export, AuditActions.Delete, AuditActions.AdminChange,
        AuditActions.ApiKeyCreated, AuditActions.ApiKeyRevoked, AuditActions.Share, AuditActions.Unshare, AuditActions.Reuse,
        AuditActions.DownloadZip, AuditActions.AdminView, AuditActions.AccountDeleted,
    ];

    public async Task<AuditPage> SearchAsync(ChangeActor actor, AuditFilter filter, int page = 0, int pageSize = 50, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        pageSize = Math.Clamp(pageSize, 1, 500);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var query = Apply(db, filter);
        var total = await query.CountAsync(cancellationToken);
        var events = Paging.Offset(page, pageSize) is { } offset
            ? await query.OrderByDescending(a => a.TimeUtc).ThenByDescending(a => a.Id).Skip(offset).Take(pageSize).ToListAsync(cancellationToken)
            : [];
        return new AuditPage(events, total);
    }

    public async Task<string> ExportCsvAsync(ChangeActor actor, AuditFilter filter, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var events = await Apply(db, filter).OrderByDescending(a => a.TimeUtc).ThenByDescending(a => a.Id).Take(MaxExportRows).ToListAsync(cancellationToken);
        var emails = await TargetEmailsAsync(db, events, cancellationToken);
        return Csv.Write(
            ["time_utc", "actor", "action", "succeeded", "target_user", "model", "image", "job", "channel", "detail"],
            events.Select(e => new object?[] { e.TimeUtc, e.ActorEmail ?? e.ActorId, e.Action, e.Succeeded, e.TargetUserId is null ? null : emails.GetValueOrDefault(e.TargetUserId, e.TargetUserId), e.ModelId, e.ImageId, e.JobId, e.Channel, e.Detail }));
    }

    /// <summary>E-mails of the target users on a page of events: the account's now, else the one recorded with the event (a deleted account).</summary>
    public async Task<IReadOnlyDictionary<string, string>> TargetEmailsAsync(ChangeActor actor, IReadOnlyList<AuditEvent> events, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await TargetEmailsAsync(db, events, cancellationToken);
    }

    private static async Task<Dictionary<string, string>> TargetEmailsAsync(FluxWebDbContext db, IReadOnlyList<AuditEvent> events, CancellationToken cancellationToken)
    {
        var ids = events.Where(e => e.TargetUserId is not null).Select(e => e.TargetUserId!).Distinct().ToList();
        var emails = await db.Users.Where(u => ids.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.Email ?? u.Id, cancellationToken);
        foreach (var recorded in events.Where(e => e.TargetUserId is not null && e.TargetEmail is not null))
        {
            emails.TryAdd(recorded.TargetUserId!, recorded.TargetEmail!);
        }

        return emails;
    }

    private static IQueryable<AuditEvent> Apply(FluxWebDbContext db, AuditFilter filter)
    {
        var query = db.AuditEvents.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(filter.User))
        {
            // The actor's e-mail, or the account an action was done to (an admin's change, a key made for someone).
            var text = filter.User.Trim().ToUpperInvariant();
            // The user's text is escaped so % and _ match themselves.
            var pattern = "%" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";
            var targets = db.Users.Where(u => u.NormalizedEmail!.Contains(text)).Select(u => u.Id);
            var dialect = DatabaseDialect.Of(db);
            var actorMatches = dialect.LikeIgnoringCase<AuditEvent>(a => a.ActorEmail, pattern);
            // The target as recorded (it outlives a deleted account) or as it is now (events written before it was recorded).
            var recordedTargetMatches = dialect.LikeIgnoringCase<AuditEvent>(a => a.TargetEmail, pattern);
            var targetMatches = (Expression<Func<AuditEvent, bool>>)(a => a.TargetUserId != null && targets.Contains(a.TargetUserId));
            var row = actorMatches.Parameters[0];
            query = query.Where(Expression.Lambda<Func<AuditEvent, bool>>(
                Expression.OrElse(
                    Expression.OrElse(actorMatches.Body, Expression.Invoke(recordedTargetMatches, row)),
                    Expression.Invoke(targetMatches, row)),
                row));
        }

        if (!string.IsNullOrWhiteSpace(filter.Action))
        {
            query = query.Where(a => a.Action == filter.Action);
        }

        if (filter.From is { } from)
        {
            var start = from.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
            query = query.Where(a => a.TimeUtc >= start);
        }

        if (filter.To is { } to)
        {
            var end = to.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
            query = query.Where(a => a.TimeUtc < end);
        }

        return query;
    }
}
