using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Persistence;

/// <summary>Brings the database to the latest migration (and, on PostgreSQL, installs Orleans' clustering schema); run once at start-up by every entry point.</summary>
public sealed partial class DatabaseMigrator(IDbContextFactory<FluxWebDbContext> contexts, ILogger<DatabaseMigrator> logger)
{
    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        // Several processes may start at once on one PostgreSQL database (a web node and its workers):
        // EF Core's MigrateAsync holds a database-wide migration lock, so one migrates and the others find it done.
        var dialect = DatabaseDialect.Of(db);
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

        await dialect.AfterMigrationAsync(db, cancellationToken);

        // Cluster:Provider=PostgreSQL: the same database holds Orleans' membership, whose silos start after this step.
        if (dialect.Provider == DatabaseProvider.PostgreSql)
        {
            await OrleansSchema.InstallAsync(db.Database.GetConnectionString()!, logger, cancellationToken);
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
