using System.Globalization;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Quotas;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Quotas;

/// <summary>A user's limits and today's usage, for the usage view and refusals.</summary>
public sealed record QuotaStatus(QuotaLimits Limits, DateOnly Day, int ImagesUsed, double GpuSecondsUsed, int QueuedJobs, DateTimeOffset ResetsAtUtc);

/// <summary>One quota day of a person's own usage, as the ledger has it (refunds of failed and cancelled jobs already taken off).</summary>
public sealed record UsageDayOfMine(DateOnly Day, int Images, double GpuSeconds, int Rejected);

/// <summary>
/// A person's own usage view: today's limits and use (with the GPU time their waiting and running jobs hold, which counts
/// against the daily GPU limit before it is measured), and the days before, newest first.
/// </summary>
public sealed record UsageOfMine(QuotaStatus Today, double GpuSecondsHeld, string TimeZone, IReadOnlyList<UsageDayOfMine> Days)
{
    /// <summary>The longest history one request returns.</summary>
    public const int MaxDays = 366;
}

/// <summary>
/// The one place quota decisions are made. Reservation and enqueue happen together under a
/// process-wide lock inside one write transaction that holds the user's database lock (SQLite's write
/// lock, a PostgreSQL advisory lock), so parallel requests cannot overshoot a limit
/// (docs/decisions/0007-fair-scheduling-and-quotas.md says how this changes with several workers).
/// </summary>
public sealed class QuotaService(IDbContextFactory<FluxWebDbContext> contexts, QuotaClock clock, IOptions<QuotaOptions> options) : IDisposable
{
    private readonly SemaphoreSlim reservationLock = new(1, 1);

    public QuotaClock Clock => clock;

    /// <summary>The role's defaults with the user's overrides applied (null: unlimited).</summary>
    public async Task<QuotaLimits> GetLimitsAsync(FluxWebDbContext db, string userId, CancellationToken cancellationToken = default)
    {
        var roleNames = await db.UserRoles.Where(ur => ur.UserId == userId)
            .Join(db.Roles, ur => ur.RoleId, r => r.Id, (_, r) => r.Name)
            .ToListAsync(cancellationToken);
        var defaults = roleNames.Contains(Roles.Admin) ? options.Value.Roles.Admin : options.Value.Roles.User;
        var custom = await db.UserQuotas.AsNoTracking().SingleOrDefaultAsync(q => q.UserId == userId, cancellationToken);
        if (custom is null)
        {
            return defaults;
        }

        return new QuotaLimits
        {
            ImagesPerDay = Override(custom.ImagesPerDay, defaults.ImagesPerDay),
            GpuSecondsPerDay = Override(custom.GpuSecondsPerDay, defaults.GpuSecondsPerDay),
            MaxQueuedJobs = Override(custom.MaxQueuedJobs, defaults.MaxQueuedJobs),
        };
    }

    public async Task<QuotaStatus> GetStatusAsync(string userId, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var limits = await GetLimitsAsync(db, userId, cancellationToken);
        var day = clock.Today;
        var usage = await db.DailyUsage.AsNoTracking().SingleOrDefaultAsync(u => u.UserId == userId && u.Day == day, cancellationToken);
        var queued = await db.Jobs.CountAsync(j => j.OwnerId == userId && j.State == JobState.Queued, cancellationToken);
        return new QuotaStatus(limits, day, usage?.Images ?? 0, usage?.GpuSeconds ?? 0, queued, clock.NextReset);
    }

    /// <summary>
    /// <paramref name="userId"/>'s own usage: today (<see cref="GetStatusAsync"/>) and the quota days of the last
    /// <paramref name="days"/> (today included; 1 to <see cref="UsageOfMine.MaxDays"/>) on which anything was counted.
    /// </summary>
    public async Task<UsageOfMine> GetUsageOfMineAsync(string userId, int days, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(days, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(days, UsageOfMine.MaxDays);
        var today = await GetStatusAsync(userId, cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var held = await db.Jobs.Where(j => j.OwnerId == userId && (j.State == JobState.Queued || j.State == JobState.Running))
            .SumAsync(j => j.EstimatedGpuSeconds, cancellationToken);
        var from = today.Day.AddDays(1 - days);
        var rows = await db.DailyUsage.AsNoTracking().Where(u => u.UserId == userId && u.Day >= from && u.Day <= today.Day)
            .OrderByDescending(u => u.Day)
            .Select(u => new UsageDayOfMine(u.Day, u.Images, u.GpuSeconds, u.Rejected))
            .ToListAsync(cancellationToken);
        return new UsageOfMine(today, held, clock.ZoneName, rows);
    }

    /// <summary>
    /// Checks every limit for <paramref name="jobs"/> (all of one owner) and, when none refuses,
    /// writes the jobs and reserves their images in the same transaction. All or nothing.
    /// </summary>
    public async Task<QuotaRefusal?> EnqueueWithinQuotaAsync(string userId, IReadOnlyList<Job> jobs, CancellationToken cancellationToken = default)
    {
        if (jobs.Any(j => j.OwnerId != userId))
        {
            throw new ArgumentException("Every job must belong to the user whose quota is charged.", nameof(jobs));
        }

        await reservationLock.WaitAsync(cancellationToken);
        try
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            // The user's reservations wait for each other before the counts are read, so another process
            // on the same database (a second web node, the CLI) cannot interleave between check and write.
            await DatabaseDialect.Of(db).LockAsync(db, QuotaLockKey(userId), cancellationToken);
            var day = clock.Today;
            var refusal = await CheckAsync(db, userId, day, jobs.Count, jobs.Sum(j => j.EstimatedGpuSeconds), cancellationToken);
            if (refusal is not null)
            {
                return refusal;
            }

            foreach (var job in jobs)
            {
                job.QuotaDay = day;
            }

            db.Jobs.AddRange(jobs);
            await db.SaveChangesAsync(cancellationToken);
            await AddUsageAsync(db, userId, day, jobs.Count, 0, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return null;
        }
        finally
        {
            reservationLock.Release();
        }
    }

    /// <summary>
    /// A read-only check before the request is decoded and validated: most refusals come from a
    /// client retrying against a full queue, and they are answered without the write lock the
    /// worker needs. Not a reservation: <see cref="EnqueueWithinQuotaAsync"/> decides.
    /// </summary>
    public async Task<QuotaRefusal?> PrecheckAsync(string userId, int images, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await CheckAsync(db, userId, clock.Today, images, 0, cancellationToken);
    }

    /// <summary>Gives a job's image back to the day it was reserved on (it failed or was cancelled). Call inside the caller's transaction.</summary>
    public static Task RefundImageAsync(FluxWebDbContext db, Job job, CancellationToken cancellationToken = default) =>
        AddUsageAsync(db, job.OwnerId, job.QuotaDay, -1, 0, cancellationToken);

    /// <summary>Charges measured GPU time to today's ledger. Call inside the caller's transaction.</summary>
    public Task ChargeGpuSecondsAsync(FluxWebDbContext db, string userId, double seconds, CancellationToken cancellationToken = default) =>
        AddUsageAsync(db, userId, clock.Today, 0, seconds, cancellationToken);

    /// <summary>
    /// Counts one refused request (quota, licence, model access, invalid input) on today's ledger
    /// for the admins' usage view. One atomic upsert outside any transaction: it never holds the
    /// write lock longer than the statement, and a failure to count must not change the answer.
    /// </summary>
    public async Task CountRejectionAsync(string userId, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            var day = clock.Today;
            // Quoted names and ON CONFLICT read the same on SQLite and PostgreSQL.
            await db.Database.ExecuteSqlInterpolatedAsync(
                $"""INSERT INTO "DailyUsage" ("UserId", "Day", "Images", "GpuSeconds", "Rejected") VALUES ({userId}, {day}, 0, 0, 1) ON CONFLICT ("UserId", "Day") DO UPDATE SET "Rejected" = "DailyUsage"."Rejected" + 1""",
                cancellationToken);
        }
        catch (System.Data.Common.DbException)
        {
            // An account deleted a moment ago has no ledger to count on; the refusal stands regardless.
        }
    }

    private async Task<QuotaRefusal?> CheckAsync(FluxWebDbContext db, string userId, DateOnly day, int requested, double wanted, CancellationToken cancellationToken)
    {
        var limits = await GetLimitsAsync(db, userId, cancellationToken);

        if (limits.MaxQueuedJobs is { } maxQueued)
        {
            var queued = await db.Jobs.CountAsync(j => j.OwnerId == userId && j.State == JobState.Queued, cancellationToken);
            if (queued + requested > maxQueued)
            {
                var message = queued == 0
                    ? $"This request adds {requested} jobs but at most {maxQueued} may wait in the queue at once. Ask for fewer images."
                    : $"You already have {queued} job{Plural(queued)} waiting and at most {maxQueued} may wait at once (this request adds {requested}). Wait for some to finish or cancel some, then try again.";
                return new QuotaRefusal(QuotaLimitKind.MaxQueuedJobs, message, null);
            }
        }

        if (limits.ImagesPerDay is null && limits.GpuSecondsPerDay is null)
        {
            return null;
        }

        // The GPU time held by waiting and running jobs is read before the ledger. A job that ends in between moves
        // its time from one to the other in one commit, so it is counted twice (a refusal a moment early), never not
        // at all: on PostgreSQL each statement sees what was committed when it began, and the worker does not wait
        // for the reservation's lock.
        var held = limits.GpuSecondsPerDay is null ? 0
            : await db.Jobs.Where(j => j.OwnerId == userId && (j.State == JobState.Queued || j.State == JobState.Running))
                .SumAsync(j => j.EstimatedGpuSeconds, cancellationToken);
        var usage = await db.DailyUsage.AsNoTracking().SingleOrDefaultAsync(u => u.UserId == userId && u.Day == day, cancellationToken);
        var reset = clock.NextReset;
        if (limits.ImagesPerDay is { } maxImages)
        {
            var used = usage?.Images ?? 0;
            if (used + requested > maxImages)
            {
                var left = Math.Max(0, maxImages - used);
                var message = $"Daily image quota reached: {used} of {maxImages} images used today, {left} left, and this request needs {requested}. It resets at {FormatReset(reset)}.";
                return new QuotaRefusal(QuotaLimitKind.ImagesPerDay, message, reset);
            }
        }

        if (limits.GpuSecondsPerDay is { } maxSeconds)
        {
            var used = usage?.GpuSeconds ?? 0;
            if (used >= maxSeconds || used + held + wanted > maxSeconds)
            {
                var heldText = held > 0 ? string.Create(CultureInfo.InvariantCulture, $", about {held:0} more held by your waiting jobs") : "";
                var message = string.Create(CultureInfo.InvariantCulture,
                    $"Daily GPU time quota reached: {used:0.#} of {maxSeconds:0.#} GPU-seconds used today{heldText}, and this request needs about {wanted:0.#}. It resets at {FormatReset(reset)}.");
                return new QuotaRefusal(QuotaLimitKind.GpuSecondsPerDay, message, reset);
            }
        }

        return null;
    }

    /// <summary>Atomic increments, so the worker's charges and the door's reservations never overwrite each other.</summary>
    private static async Task AddUsageAsync(FluxWebDbContext db, string userId, DateOnly day, int images, double gpuSeconds, CancellationToken cancellationToken)
    {
        await db.Database.ExecuteSqlInterpolatedAsync(
            $"""INSERT INTO "DailyUsage" ("UserId", "Day", "Images", "GpuSeconds", "Rejected") VALUES ({userId}, {day}, 0, 0, 0) ON CONFLICT ("UserId", "Day") DO NOTHING""",
            cancellationToken);
        await db.DailyUsage.Where(u => u.UserId == userId && u.Day == day)
            .ExecuteUpdateAsync(set => set
                .SetProperty(u => u.Images, u => u.Images + images)
                .SetProperty(u => u.GpuSeconds, u => u.GpuSeconds + gpuSeconds), cancellationToken);
    }

    private static string QuotaLockKey(string userId) => "quota:" + userId;

    /// <summary>When a quota day starts again, on the quota clock's zone (and in UTC when that is another): refusals and the usage page say it alike.</summary>
    public string FormatReset(DateTimeOffset resetUtc)
    {
        if (clock.ZoneName is "UTC" or "Etc/UTC")
        {
            return resetUtc.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
        }

        var local = TimeZoneInfo.ConvertTime(resetUtc, TimeZoneInfo.FindSystemTimeZoneById(clock.ZoneName));
        return local.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) + $" {clock.ZoneName} ({resetUtc.ToString("HH:mm 'UTC'", CultureInfo.InvariantCulture)})";
    }

    public void Dispose() => reservationLock.Dispose();

    private static int? Override(int? custom, int? fallback) => custom switch
    {
        null => fallback,
        < 0 => null,
        _ => custom,
    };

    private static double? Override(double? custom, double? fallback) => custom switch
    {
        null => fallback,
        < 0 => null,
        _ => custom,
    };

    private static string Plural(int n) => n == 1 ? "" : "s";
}
