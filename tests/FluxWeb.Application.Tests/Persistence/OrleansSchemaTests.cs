using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using FluxWeb.Persistence;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Orleans.Configuration;
using Orleans.Hosting;

namespace FluxWeb.Application.Tests.Persistence;

/// <summary>
/// Orleans' vendored PostgreSQL schema: installed once, concurrently safe, by the start-up migration, and good enough
/// for the Orleans release FluxWeb ships: real silos form a cluster on it.
/// </summary>
public sealed partial class OrleansSchemaTests
{
    // SiloStatus.Active, as Orleans writes it into OrleansMembershipTable.Status.
    private const int Active = 3;

    [Fact]
    public async Task Installing_creates_orleans_tables_and_the_queries_its_scripts_define()
    {
        var connectionString = await PostgreSqlTestDatabase.CreateEmptyAsync();
        var logs = new CapturingLoggerProvider();

        var ran = await OrleansSchema.InstallAsync(connectionString, logs.CreateLogger("test"));

        Assert.Equal(["PostgreSQL-Main.sql", "PostgreSQL-Clustering.sql"], ran);
        Assert.Equal(["orleansmembershiptable", "orleansmembershipversiontable", "orleansquery"], await OrleansTablesAsync(connectionString));
        var expected = await QueryKeysInScriptsAsync();
        Assert.Contains("MembershipReadAllKey", expected);
        Assert.Equal(expected, await QueryKeysAsync(connectionString));
        Assert.Contains(logs.Lines, l => l.Contains("Orleans' clustering schema installed (PostgreSQL-Main.sql, PostgreSQL-Clustering.sql)", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Lines, l => l.StartsWith("Warning ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_second_install_changes_nothing()
    {
        var connectionString = await PostgreSqlTestDatabase.CreateEmptyAsync();
        await OrleansSchema.InstallAsync(connectionString, NullLogger.Instance);
        await ExecuteAsync(connectionString, "UPDATE OrleansQuery SET QueryText = QueryText || ' -- kept' WHERE QueryKey = 'GatewaysQueryKey'");
        var logs = new CapturingLoggerProvider();

        var ran = await OrleansSchema.InstallAsync(connectionString, logs.CreateLogger("test"));

        Assert.Empty(ran);
        Assert.Equal(await QueryKeysInScriptsAsync(), await QueryKeysAsync(connectionString));
        Assert.EndsWith(" -- kept", await ScalarAsync<string>(connectionString, "SELECT QueryText FROM OrleansQuery WHERE QueryKey = 'GatewaysQueryKey'"), StringComparison.Ordinal);
        Assert.Contains(logs.Lines, l => l.Contains("Orleans' clustering schema is present", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_catalog_installed_by_older_scripts_is_reported_with_the_queries_it_lacks()
    {
        var connectionString = await PostgreSqlTestDatabase.CreateEmptyAsync();
        await OrleansSchema.InstallAsync(connectionString, NullLogger.Instance);
        // As a database installed before Orleans added this query (2026-08, #9125) looks.
        await ExecuteAsync(connectionString, "DELETE FROM OrleansQuery WHERE QueryKey = 'CleanupDefunctSiloEntriesKey'");
        var logs = new CapturingLoggerProvider();

        var ran = await OrleansSchema.InstallAsync(connectionString, logs.CreateLogger("test"));

        Assert.Empty(ran);
        Assert.Contains(logs.Lines, l => l.StartsWith("Warning ", StringComparison.Ordinal)
            && l.Contains("lacks CleanupDefunctSiloEntriesKey, which the vendored scripts define", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_database_with_only_the_query_catalog_gets_the_clustering_part()
    {
        var connectionString = await PostgreSqlTestDatabase.CreateEmptyAsync();
        await ExecuteAsync(connectionString, await OrleansSchema.ReadAsync("PostgreSQL-Main.sql"));

        var ran = await OrleansSchema.InstallAsync(connectionString, NullLogger.Instance);

        Assert.Equal(["PostgreSQL-Clustering.sql"], ran);
        Assert.Equal(await QueryKeysInScriptsAsync(), await QueryKeysAsync(connectionString));
    }

    [Fact]
    public async Task A_role_that_may_not_create_tables_gets_an_error_that_says_so()
    {
        var connectionString = await PostgreSqlTestDatabase.CreateEmptyAsync();
        var role = "orleans_reader_" + Guid.NewGuid().ToString("N")[..8];
        var password = Guid.NewGuid().ToString("N");
        // Only the database's owner may create in its public schema (PostgreSQL 15's default, made explicit): this role may connect, no more.
        await ExecuteAsync(connectionString, $"CREATE ROLE {role} LOGIN PASSWORD '{password}'; REVOKE CREATE ON SCHEMA public FROM PUBLIC");
        var asRole = new NpgsqlConnectionStringBuilder(connectionString) { Username = role, Password = password }.ConnectionString;

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => OrleansSchema.InstallAsync(asRole, NullLogger.Instance));

        Assert.Contains("Could not install Orleans' clustering schema (PostgreSQL-Main.sql)", error.Message, StringComparison.Ordinal);
        Assert.Contains("permission denied", error.Message, StringComparison.Ordinal);
        Assert.Contains("Cluster:ConnectionString", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(password, error.Message, StringComparison.Ordinal);
        Assert.Empty(await OrleansTablesAsync(connectionString));
    }

    [Fact]
    public async Task A_script_that_fails_half_way_leaves_nothing_behind()
    {
        var connectionString = await PostgreSqlTestDatabase.CreateEmptyAsync();
        // A function of the Clustering script's name and signature already there: Main runs, then Clustering fails.
        await ExecuteAsync(connectionString, "CREATE FUNCTION update_i_am_alive_time(varchar, varchar, integer, integer, timestamptz) RETURNS void LANGUAGE sql AS ''");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => OrleansSchema.InstallAsync(connectionString, NullLogger.Instance));

        Assert.Contains("(PostgreSQL-Clustering.sql)", error.Message, StringComparison.Ordinal);
        Assert.Empty(await OrleansTablesAsync(connectionString));
    }

    [Fact]
    public async Task Nodes_starting_together_on_a_fresh_database_all_succeed_and_install_it_once()
    {
        const int Nodes = 4;
        var connectionString = await PostgreSqlTestDatabase.CreateEmptyAsync();
        // Each node opens its connection first, then all go at once: the installs overlap as far as they can.
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var installs = Enumerable.Range(0, Nodes).Select(_ => Task.Run(async () =>
        {
            await using (var warm = new NpgsqlConnection(connectionString))
            {
                await warm.OpenAsync();
            }

            await go.Task;
            return await OrleansSchema.InstallAsync(connectionString, NullLogger.Instance);
        })).ToList();

        go.SetResult();
        var results = await Task.WhenAll(installs);

        Assert.Single(results, r => r.Count == 2);
        Assert.Equal(Nodes - 1, results.Count(r => r.Count == 0));
        Assert.Equal(await QueryKeysInScriptsAsync(), await QueryKeysAsync(connectionString));
        Assert.Equal(["orleansmembershiptable", "orleansmembershipversiontable", "orleansquery"], await OrleansTablesAsync(connectionString));
    }

    [Fact]
    public async Task The_start_up_migration_installs_it_and_real_orleans_silos_form_a_cluster_on_it()
    {
        var connectionString = await PostgreSqlTestDatabase.CreateEmptyAsync();
        var builder = new DbContextOptionsBuilder<FluxWebDbContext>();
        PersistenceServiceCollectionExtensions.Configure(builder, new DatabaseConnection(DatabaseProvider.PostgreSql, connectionString));
        await new DatabaseMigrator(new Contexts(builder.Options), NullLogger<DatabaseMigrator>.Instance).MigrateAsync();
        Assert.Equal(await QueryKeysInScriptsAsync(), await QueryKeysAsync(connectionString));

        var clusterId = "fluxweb-test-" + Guid.NewGuid().ToString("N")[..8];
        var logs = new CapturingLoggerProvider();
        using var first = await StartSiloAsync(connectionString, clusterId, logs);
        await Eventually.Until(async () => await ActiveSilosAsync(connectionString, clusterId) == 1, "the first silo is Active in OrleansMembershipTable");

        using var second = await StartSiloAsync(connectionString, clusterId, logs);
        await Eventually.Until(async () => await ActiveSilosAsync(connectionString, clusterId) == 2, "both silos are Active in OrleansMembershipTable");

        await StopAsync(second);
        await StopAsync(first);
        // The provider logs, rather than throws, what fails later (heartbeats, clean-up, gateway reads): none may appear.
        Assert.DoesNotContain(logs.Lines, l => l.StartsWith("Error ", StringComparison.Ordinal) || l.StartsWith("Critical ", StringComparison.Ordinal));
    }

    private static async Task<IHost> StartSiloAsync(string connectionString, string clusterId, CapturingLoggerProvider logs)
    {
        for (var attempt = 1; ; attempt++)
        {
            var (siloPort, gatewayPort) = (FreeLoopbackPort(), FreeLoopbackPort());
            var host = new HostBuilder()
                .ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning).AddProvider(logs))
                .UseOrleans(silo => silo
                    .Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (clusterId, "fluxweb"))
                    .UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = (OrleansSchema.AdoNetInvariant, connectionString))
                    .ConfigureEndpoints(IPAddress.Loopback, siloPort, gatewayPort, listenOnAnyHostAddress: false))
                .Build();
            try
            {
                await host.StartAsync();
                return host;
            }
            catch (Exception ex) when (attempt < 3 && PortTaken(ex))
            {
                // Another test run took a port between the probe and the silo's bind: try others.
                host.Dispose();
            }
            catch
            {
                host.Dispose();
                throw;
            }
        }
    }

    private static bool PortTaken(Exception? ex) =>
        ex is not null && (ex is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } || PortTaken(ex.InnerException)
            || (ex is AggregateException aggregate && aggregate.InnerExceptions.Any(PortTaken)));

    private static async Task StopAsync(IHost host)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await host.StopAsync(timeout.Token);
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static Task<long> ActiveSilosAsync(string connectionString, string clusterId) =>
        ScalarAsync<long>(connectionString, $"SELECT count(*) FROM OrleansMembershipTable WHERE DeploymentId = '{clusterId}' AND Status = {Active}");

    /// <summary>The query keys the vendored scripts insert, read from the scripts themselves.</summary>
    private static async Task<List<string>> QueryKeysInScriptsAsync()
    {
        var keys = new List<string>();
        foreach (var name in OrleansSchema.ScriptNames)
        {
            keys.AddRange(InsertedKey().Matches(await OrleansSchema.ReadAsync(name)).Select(m => m.Groups[1].Value));
        }

        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    private static async Task<List<string>> QueryKeysAsync(string connectionString) =>
        await ListAsync(connectionString, "SELECT QueryKey FROM OrleansQuery ORDER BY QueryKey COLLATE \"C\"");

    private static async Task<List<string>> OrleansTablesAsync(string connectionString) =>
        await ListAsync(connectionString, "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'orleans%' ORDER BY 1");

    private static async Task<List<string>> ListAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var values = new List<string>();
        while (await reader.ReadAsync())
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }

    private static async Task<T> ScalarAsync<T>(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    [GeneratedRegex(@"INSERT INTO OrleansQuery\s*\(QueryKey, QueryText\)\s*VALUES\s*\(\s*'(\w+)'")]
    private static partial Regex InsertedKey();

    private sealed class Contexts(DbContextOptions<FluxWebDbContext> options) : IDbContextFactory<FluxWebDbContext>
    {
        public FluxWebDbContext CreateDbContext() => new(options);
    }
}
