using FluxWeb.Application.Audit;
using FluxWeb.Application.Quotas;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Administration;

/// <summary>One user's quota day: images charged (failed and cancelled jobs give theirs back), measured GPU-seconds, refused requests.</summary>
public sealed record UsageRow(DateOnly Day, string UserId, string Email, int Images, double GpuSeconds, int Rejected);

/// <summary>Totals of one day over every user, for the chart.</summary>
public sealed record UsageDay(DateOnly Day, int Images, double GpuSeconds, int Rejected);

/// <summary>The admins' usage view and its CSV, read from the daily ledger the quotas keep (so it shows exactly what the quotas counted).</summary>
public sealed class UsageReport(IDbContextFactory<FluxWebDbContext> contexts, QuotaClock clock, AdminAuthorization admins)
{
    public const int MaxRows = 10_000;

    /// <summary>Quota days <paramref name="from"/> … <paramref name="to"/> (inclusive; default: the last 30 days), newest first.</summary>
    public async Task<IReadOnlyList<UsageRow>> QueryAsync(ChangeActor actor, DateOnly? from = null, DateOnly? to = null, string? user = null, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        var last = to ?? clock.Today;
        var first = from ?? last.AddDays(-29);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var query = db.DailyUsage.AsNoTracking().Where(u => u.Day >= first && u.Day <= last);
        if (!string.IsNullOrWhiteSpace(user))
        {
            var normalized = user.Trim().ToUpperInvariant();
            query = query.Where(u => u.User!.NormalizedEmail!.Contains(normalized));
        }

        var rows = await query
            .OrderByDescending(u => u.Day).ThenBy(u => u.User!.NormalizedEmail)
            .Take(MaxRows)
            .Select(u => new { u.Day, u.UserId, u.User!.Email, u.Images, u.GpuSeconds, u.Rejected })
            .ToListAsync(cancellationToken);
        return rows.Select(r => new UsageRow(r.Day, r.UserId, r.Email ?? r.UserId, r.Images, r.GpuSeconds, r.Rejected)).ToList();
    }

    public static IReadOnlyList<UsageDay> ByDay(IEnumerable<UsageRow> rows) =>
        rows.GroupBy(r => r.Day).OrderBy(g => g.Key)
            .Select(g => new UsageDay(g.Key, g.Sum(r => r.Images), g.Sum(r => r.GpuSeconds), g.Sum(r => r.Rejected)))
            .ToList();

    public static string ToCsv(IEnumerable<UsageRow> rows) =>
        Csv.Write(["day", "user", "images", "gpu_seconds", "rejected_requests"], rows.Select(r => new object?[] { r.Day, r.Email, r.Images, r.GpuSeconds, r.Rejected }));
}
