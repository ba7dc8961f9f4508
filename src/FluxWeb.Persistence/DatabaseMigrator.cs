using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Persistence;

/// <summary>Brings the database to the latest migration; run once at start-up by every entry point.</summary>
public sealed partial class DatabaseMigrator(IDbContextFactory<FluxWebDbContext> contexts, ILogger<DatabaseMigrator> logger)
{
    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
        if (pending.Count == 0)
        {
            LogUpToDate(logger);
        }
        else
        {
            var names = string.Join(", ", pending);
            LogApplying(logger, pending.Count, names);
            await db.Database.MigrateAsync(cancellationToken);
            LogApplied(logger, pending[^1]);
        }

        await UseWriteAheadLogAsync(db, cancellationToken);
    }

    /// <summary>
    /// The job queue reads (scheduler, pages, API) while it writes (submissions, worker). In WAL
    /// mode readers never block the writer and the writer never blocks readers; the setting is
    /// stored in the database file, so this only changes something the first time.
    /// </summary>
    private static async Task UseWriteAheadLogAsync(FluxWebDbContext db, CancellationToken cancellationToken)
    {
        if (db.Database.IsSqlite() && db.Database.GetDbConnection().DataSource is not ("" or ":memory:"))
        {
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode = WAL;", cancellationToken);
        }
    }

    public async Task<bool> CanConnectAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            return await db.Database.CanConnectAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Database schema is up to date")]
    private static partial void LogUpToDate(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Applying {Count} database migration(s): {Migrations}")]
    private static partial void LogApplying(ILogger logger, int count, string migrations);

    [LoggerMessage(Level = LogLevel.Information, Message = "Database migrated to {Migration}")]
    private static partial void LogApplied(ILogger logger, string migration);
}
