using System.Text.RegularExpressions;
using FluxWeb.Persistence.Dialects;
using Microsoft.Extensions.Logging;
using Npgsql;

// Not FluxWeb.Persistence.Orleans: a namespace ending in "Orleans" would hide Orleans' own namespaces from code beneath it.
namespace FluxWeb.Persistence;

/// <summary>
/// Orleans' ADO.NET clustering schema (the <c>OrleansQuery</c> catalog and the membership tables) on the cluster's
/// PostgreSQL database, from the scripts vendored beside this file (see its README). Run by
/// <see cref="DatabaseMigrator.MigrateAsync"/> at every start on PostgreSQL, before any silo joins.
/// </summary>
public static partial class OrleansSchema
{
    /// <summary>The ADO.NET invariant Orleans' clustering provider is configured with for this schema.</summary>
    public const string AdoNetInvariant = "Npgsql";

    /// <summary>The embedded resources' logical names (set in the project file).</summary>
    internal const string ResourcePrefix = "FluxWeb.Persistence.Orleans.";

    // Every node may start at once; one installs, the others wait and then find the tables.
    private const string LockKey = "orleans-schema";

    /// <summary>
    /// In order: Main creates the query catalog the Clustering script inserts into. Each is recognised by a table
    /// it creates (unquoted in the scripts, so lower case): the scripts are not idempotent and run only when missing.
    /// </summary>
    private static readonly Script[] Scripts =
    [
        new("PostgreSQL-Main.sql", "orleansquery"),
        new("PostgreSQL-Clustering.sql", "orleansmembershiptable"),
    ];

    /// <summary>The vendored scripts' names, in the order they run.</summary>
    public static IReadOnlyList<string> ScriptNames { get; } = [.. Scripts.Select(s => s.Name)];

    /// <summary>
    /// Creates whatever part of Orleans' schema the database at <paramref name="connectionString"/> lacks, in one
    /// transaction (a failed script leaves nothing half-made) under a PostgreSQL advisory lock (two nodes starting
    /// together install it once). Returns the scripts it ran: none when the schema was already there.
    /// </summary>
    public static async Task<IReadOnlyList<string>> InstallAsync(string connectionString, ILogger logger, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        await using (var lockCommand = new NpgsqlCommand("SELECT pg_advisory_xact_lock(@space, hashtext(@key))", connection, transaction))
        {
            lockCommand.Parameters.AddWithValue("space", PostgreSqlDialect.LockNamespace);
            lockCommand.Parameters.AddWithValue("key", LockKey);
            await lockCommand.ExecuteNonQueryAsync(cancellationToken);
        }

        var ran = new List<string>();
        foreach (var script in Scripts)
        {
            // A statement after the lock sees what a node that held it before us committed.
            await using var exists = new NpgsqlCommand("SELECT to_regclass(@table) IS NOT NULL", connection, transaction);
            exists.Parameters.AddWithValue("table", script.Table);
            if ((bool)(await exists.ExecuteScalarAsync(cancellationToken))!)
            {
                continue;
            }

            LogInstalling(logger, script.Name);
            // No parameters: the text goes to the server as written (the scripts' @names are inside string literals).
            await using var run = new NpgsqlCommand(await ReadAsync(script.Name, cancellationToken), connection, transaction);
            try
            {
                await run.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (PostgresException ex)
            {
                // The transaction is rolled back: nothing of Orleans' schema is left half-made for the next start.
                throw new InvalidOperationException(
                    $"Could not install Orleans' clustering schema ({script.Name}) into {DatabaseDialect.PostgreSql.Describe(connectionString)}: {ex.MessageText} (SQLSTATE {ex.SqlState}). "
                    + "The role in Cluster:ConnectionString must be allowed to create tables and functions in the database's schema (own the database, or be granted CREATE on its public schema).",
                    ex);
            }

            ran.Add(script.Name);
        }

        // A database installed by older scripts keeps its older catalog (nothing here upgrades it): say what it lacks.
        var missing = await MissingQueriesAsync(connection, transaction, cancellationToken);
        if (missing.Count > 0)
        {
            LogMissingQueries(logger, string.Join(", ", missing));
        }

        await transaction.CommitAsync(cancellationToken);
        if (ran.Count == 0)
        {
            LogPresent(logger);
        }
        else
        {
            LogInstalled(logger, string.Join(", ", ran));
        }

        return ran;
    }

    /// <summary>The text of the vendored script <paramref name="name"/> (embedded in this assembly).</summary>
    public static async Task<string> ReadAsync(string name, CancellationToken cancellationToken = default)
    {
        var resource = typeof(OrleansSchema).Assembly.GetManifestResourceStream(ResourcePrefix + name)
            ?? throw new InvalidOperationException($"The Orleans schema script {name} is not embedded in {typeof(OrleansSchema).Assembly.GetName().Name}.");
        await using (resource)
        {
            using var reader = new StreamReader(resource);
            return await reader.ReadToEndAsync(cancellationToken);
        }
    }

    /// <summary>The query keys the vendored scripts define that the database's <c>OrleansQuery</c> lacks.</summary>
    private static async Task<List<string>> MissingQueriesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        var defined = new List<string>();
        foreach (var script in Scripts)
        {
            defined.AddRange(InsertedQueryKey().Matches(await ReadAsync(script.Name, cancellationToken)).Select(m => m.Groups[1].Value));
        }

        var present = new HashSet<string>(StringComparer.Ordinal);
        await using var read = new NpgsqlCommand("SELECT QueryKey FROM OrleansQuery", connection, transaction);
        await using var reader = await read.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            present.Add(reader.GetString(0));
        }

        return [.. defined.Where(k => !present.Contains(k))];
    }

    [GeneratedRegex(@"INSERT INTO OrleansQuery\s*\(QueryKey,\s*QueryText\)\s*VALUES\s*\(\s*'(\w+)'")]
    private static partial Regex InsertedQueryKey();

    private sealed record Script(string Name, string Table);

    [LoggerMessage(Level = LogLevel.Information, Message = "Installing Orleans' clustering schema: {Script}")]
    private static partial void LogInstalling(ILogger logger, string script);

    [LoggerMessage(Level = LogLevel.Information, Message = "Orleans' clustering schema installed ({Scripts})")]
    private static partial void LogInstalled(ILogger logger, string scripts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Orleans' query catalog (OrleansQuery) lacks {Queries}, which the vendored scripts define: it was installed by older scripts. Apply the matching Migrations/PostgreSQL-Clustering-*.sql of the Orleans release in use (src/FluxWeb.Persistence/Orleans/README.md)")]
    private static partial void LogMissingQueries(ILogger logger, string queries);

    [LoggerMessage(Level = LogLevel.Information, Message = "Orleans' clustering schema is present")]
    private static partial void LogPresent(ILogger logger);
}
