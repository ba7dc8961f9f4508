using FluxWeb.Persistence;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;

namespace FluxWeb.Testing;

/// <summary>
/// Migrating an empty SQLite file takes most of a host's start-up; a test run does it once, into a template,
/// and each test host starts on a copy. The host still runs its own start-up steps, migrations included: they
/// find the copy up to date, exactly as a restarted server finds its database. (Migrating from empty is
/// tested on its own, in <c>MigrationTests</c>.)
/// </summary>
public static class TestDatabase
{
    private static readonly Lazy<byte[]> Template = new(CreateTemplate);

    /// <summary>Puts a migrated, empty database into <paramref name="dataDirectory"/>, unless it has one already (a restart).</summary>
    public static void CopyInto(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, PersistenceOptions.DatabaseFileName);
        if (File.Exists(path))
        {
            return;
        }

        Directory.CreateDirectory(dataDirectory);
        File.WriteAllBytes(path, Template.Value);
    }

    /// <summary>Every row of every table gone, except the migrations' history and the roles (which the start-up creates once).</summary>
    public static async Task DeleteRowsAsync(IDbContextFactory<FluxWebDbContext> contexts)
    {
        await using var db = await contexts.CreateDbContextAsync();
        var tables = db.Model.GetEntityTypes()
            .Where(t => t.GetTableName() is not null && t.GetViewName() is null && t.ClrType != typeof(Microsoft.AspNetCore.Identity.IdentityRole))
            .Select(t => t.GetTableName()!)
            .Distinct()
            .ToList();
        await using var transaction = await db.Database.BeginTransactionAsync();
        // Foreign keys are checked at commit, when every table is empty, so the order of the deletes does not matter.
        await db.Database.ExecuteSqlRawAsync("PRAGMA defer_foreign_keys = ON;");
        foreach (var table in tables)
        {
#pragma warning disable EF1002 // Table names come from the model, not from input.
            await db.Database.ExecuteSqlRawAsync($"DELETE FROM \"{table}\";");
#pragma warning restore EF1002
        }

        await transaction.CommitAsync();
    }

    private static byte[] CreateTemplate()
    {
        using var folder = new TempFolder("fluxweb-template");
        var builder = new DbContextOptionsBuilder<FluxWebDbContext>();
        PersistenceServiceCollectionExtensions.Configure(builder, new PersistenceOptions { DataDirectory = folder.Path });
        new DatabaseMigrator(new Contexts(builder.Options), NullLogger<DatabaseMigrator>.Instance).MigrateAsync().GetAwaiter().GetResult();
        // Closing every connection checkpoints the write-ahead log into the file, so the file alone is the database.
        SqliteConnection.ClearAllPools();
        return File.ReadAllBytes(Path.Combine(folder.Path, PersistenceOptions.DatabaseFileName));
    }

    private sealed class Contexts(DbContextOptions<FluxWebDbContext> options) : IDbContextFactory<FluxWebDbContext>
    {
        public FluxWebDbContext CreateDbContext() => new(options);
    }
}
