using System.Collections.Concurrent;
using FluxWeb.Persistence;
using FluxWeb.Testing.PostgreSql;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;

namespace FluxWeb.Testing;

/// <summary>Which database a test host runs on: the persistence-heavy scenarios run once on each.</summary>
public enum TestDatabaseProvider
{
    Sqlite,
    PostgreSql,
}

/// <summary>
/// PostgreSQL databases for test hosts, on this test process's own server (<see cref="PostgreSqlServer.SharedAsync"/>,
/// started on first use, stopped at exit). Each data folder gets a fresh database copied from one migrated template;
/// its connection string is kept in the folder, so a second host on the same folder (a restart) finds the same database.
/// A database is dropped once its data folder is gone (the test that owned it has ended), so a run holds only the
/// databases of the tests still running: each copy is about 8 MB.
/// </summary>
public static class PostgreSqlTestDatabase
{
    private const string ConnectionFile = "postgresql-connection.txt";

    private static readonly ConcurrentDictionary<string, string> Live = new(StringComparer.Ordinal);

    /// <summary>The <c>Cluster</c> settings that put a host whose data folder is <paramref name="dataDirectory"/> on its own migrated PostgreSQL database.</summary>
    public static async Task<Dictionary<string, string?>> SettingsForAsync(string dataDirectory)
    {
        var file = Path.Combine(dataDirectory, ConnectionFile);
        string connectionString;
        if (File.Exists(file))
        {
            connectionString = await File.ReadAllTextAsync(file);
        }
        else
        {
            var server = await PostgreSqlServer.SharedAsync();
            await DropFinishedAsync(server);
            connectionString = await server.CreateDatabaseAsync("fluxweb", MigrateAsync);
            Directory.CreateDirectory(dataDirectory);
            await File.WriteAllTextAsync(file, connectionString);
            Live[dataDirectory] = connectionString;
        }

        return new Dictionary<string, string?>
        {
            ["Cluster:Provider"] = nameof(DatabaseProvider.PostgreSql),
            ["Cluster:ConnectionString"] = connectionString,
            // Each test host is a cluster of its own, on free ports, as on SQLite: tests run side by side and
            // several test processes share the server. Tests of several silos set Membership=Database themselves.
            ["Cluster:Membership"] = "Local",
            ["Cluster:SiloPort"] = "0",
            ["Cluster:GatewayPort"] = "0",
        };
    }

    /// <summary>Contexts on the migrated PostgreSQL database of <paramref name="dataDirectory"/> (see <see cref="SettingsForAsync"/>), for tests of one store without a host.</summary>
    public static async Task<IDbContextFactory<FluxWebDbContext>> ContextsForAsync(string dataDirectory)
    {
        var connectionString = (await SettingsForAsync(dataDirectory))["Cluster:ConnectionString"]!;
        return ContextsFor(connectionString);
    }

    /// <summary>A fresh, empty PostgreSQL database (nothing migrated); returns its connection string.</summary>
    public static async Task<string> CreateEmptyAsync() => await (await PostgreSqlServer.SharedAsync()).CreateDatabaseAsync();

    private static async Task DropFinishedAsync(PostgreSqlServer server)
    {
        foreach (var (dataDirectory, connectionString) in Live)
        {
            if (!Directory.Exists(dataDirectory) && Live.TryRemove(dataDirectory, out _))
            {
                await server.DropDatabaseAsync(connectionString);
            }
        }
    }

    private static async Task MigrateAsync(string connectionString, CancellationToken cancellationToken)
    {
        await new DatabaseMigrator(ContextsFor(connectionString), NullLogger<DatabaseMigrator>.Instance).MigrateAsync(cancellationToken);
    }

    private static Contexts ContextsFor(string connectionString)
    {
        var builder = new DbContextOptionsBuilder<FluxWebDbContext>();
        PersistenceServiceCollectionExtensions.Configure(builder, new DatabaseConnection(DatabaseProvider.PostgreSql, connectionString));
        return new Contexts(builder.Options);
    }

    private sealed class Contexts(DbContextOptions<FluxWebDbContext> options) : IDbContextFactory<FluxWebDbContext>
    {
        public FluxWebDbContext CreateDbContext() => new(options);
    }
}
