using System.Data.Common;
using Microsoft.Extensions.Options;

namespace FluxWeb.Persistence;

/// <summary>Which database FluxWeb keeps its accounts, queue and ledgers in.</summary>
public enum DatabaseProvider
{
    /// <summary>A file in the data folder: one box, nothing to install (the default).</summary>
    Sqlite,

    /// <summary>A PostgreSQL server that several processes and boxes share (the cluster's database).</summary>
    PostgreSql,
}

/// <summary>
/// The database half of the <c>Cluster</c> section: the provider and its one connection string. One section
/// because a cluster's processes share one PostgreSQL server for FluxWeb's tables and (later) Orleans' membership.
/// </summary>
public sealed class DatabaseOptions
{
    public const string SectionName = "Cluster";

    /// <summary><c>Sqlite</c> (default) or <c>PostgreSQL</c>.</summary>
    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>
    /// SQLite: optional, default <c>Data Source=&lt;data&gt;/fluxweb.db</c>. PostgreSQL: required, in Npgsql's
    /// format (<c>Host=…;Database=…;Username=…;Password=…</c>).
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>The provider and connection string this process uses, with the older <c>FluxWeb:ConnectionString</c> and the SQLite default applied.</summary>
    public DatabaseConnection Resolve(PersistenceOptions persistence)
    {
        var connectionString = !string.IsNullOrWhiteSpace(ConnectionString) ? ConnectionString
            : !string.IsNullOrWhiteSpace(persistence.ConnectionString) ? persistence.ConnectionString
            : Provider == DatabaseProvider.Sqlite ? persistence.DefaultSqliteConnectionString()
            : throw new OptionsValidationException(SectionName, typeof(DatabaseOptions), [MissingConnectionString]);
        return new DatabaseConnection(Provider, connectionString);
    }

    internal const string MissingConnectionString =
        "Cluster:Provider is PostgreSQL but Cluster:ConnectionString is empty: set it to the server's connection string, e.g. Host=db;Database=fluxweb;Username=fluxweb;Password=… (from an environment variable or a secrets file, never the repository).";
}

/// <summary>A resolved database: what <see cref="DatabaseDialect"/> connects to.</summary>
public sealed record DatabaseConnection(DatabaseProvider Provider, string ConnectionString)
{
    public DatabaseDialect Dialect => DatabaseDialect.For(Provider);

    /// <summary>Where the database is, without credentials (for logs and health details).</summary>
    public override string ToString() => Dialect.Describe(ConnectionString);
}

/// <summary>Refuses, at start, settings that would connect nowhere or to the wrong kind of server; names the setting, never its secret.</summary>
internal sealed class DatabaseOptionsValidator(IOptions<PersistenceOptions> persistence) : IValidateOptions<DatabaseOptions>
{
    public ValidateOptionsResult Validate(string? name, DatabaseOptions options)
    {
        if (!Enum.IsDefined(options.Provider))
        {
            return ValidateOptionsResult.Fail($"Cluster:Provider must be Sqlite or PostgreSQL (was {(int)options.Provider}).");
        }

        var legacy = persistence.Value.ConnectionString;
        if (!string.IsNullOrWhiteSpace(options.ConnectionString) && !string.IsNullOrWhiteSpace(legacy) && options.ConnectionString != legacy)
        {
            return ValidateOptionsResult.Fail("Both Cluster:ConnectionString and its older name FluxWeb:ConnectionString are set, to different values: keep only Cluster:ConnectionString.");
        }

        if (options.Provider == DatabaseProvider.PostgreSql && string.IsNullOrWhiteSpace(options.ConnectionString) && string.IsNullOrWhiteSpace(legacy))
        {
            return ValidateOptionsResult.Fail(DatabaseOptions.MissingConnectionString);
        }

        try
        {
            var connection = options.Resolve(persistence.Value);
            return connection.Dialect.CheckConnectionString(connection.ConnectionString) is { } problem
                ? ValidateOptionsResult.Fail(problem)
                : ValidateOptionsResult.Success;
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or DbException)
        {
            return ValidateOptionsResult.Fail($"Cluster:ConnectionString is not a valid {options.Provider} connection string ({ex.Message}).");
        }
    }
}
