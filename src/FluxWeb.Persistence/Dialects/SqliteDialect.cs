using System.Linq.Expressions;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace FluxWeb.Persistence.Dialects;

internal sealed class SqliteDialect : DatabaseDialect
{
    private const int SqliteFull = 13;
    private const int SqliteConstraintUnique = 2067;

    private static readonly SqliteConnectionSetup ConnectionSetup = new();

    public override DatabaseProvider Provider => DatabaseProvider.Sqlite;

    // The first migrations project kept its name, so databases made before PostgreSQL came keep their migration history.
    public override string MigrationsAssembly => "FluxWeb.Migrations";

    public override void Configure(DbContextOptionsBuilder options, string connectionString)
    {
        EnsureFolder(connectionString);
        options.UseSqlite(connectionString, sqlite => sqlite.MigrationsAssembly(MigrationsAssembly))
            .AddInterceptors(ConnectionSetup);
    }

    public override string? CheckConnectionString(string connectionString)
    {
        try
        {
            _ = new SqliteConnectionStringBuilder(connectionString);
            return null;
        }
        catch (ArgumentException) when (LooksLikePostgreSql(connectionString))
        {
            return "Cluster:ConnectionString is a PostgreSQL connection string but Cluster:Provider is Sqlite: set Cluster:Provider=PostgreSQL.";
        }
    }

    public override string Describe(string connectionString) =>
        $"SQLite file {new SqliteConnectionStringBuilder(connectionString).DataSource}";

    /// <summary>
    /// The job queue reads (scheduler, pages, API) while it writes (submissions, worker). In WAL mode
    /// readers never block the writer and the writer never blocks readers; the setting is stored in the
    /// database file, so this only changes something the first time.
    /// </summary>
    internal override async Task AfterMigrationAsync(FluxWebDbContext db, CancellationToken cancellationToken)
    {
        if (db.Database.GetDbConnection().DataSource is not ("" or ":memory:"))
        {
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode = WAL;", cancellationToken);
        }
    }

    /// <summary>
    /// Nothing to do: Microsoft.Data.Sqlite begins transactions with BEGIN IMMEDIATE, which takes the
    /// database's one write lock before anything is read, so every writer (any process on the file) waits.
    /// </summary>
    public override Task LockAsync(FluxWebDbContext db, string key, CancellationToken cancellationToken = default) =>
        db.Database.CurrentTransaction is null
            ? throw new InvalidOperationException("LockAsync is called inside a transaction.")
            : Task.CompletedTask;

    public override Expression<Func<T, bool>> LikeIgnoringCase<T>(Expression<Func<T, string?>> text, string pattern) =>
        Compose(text, t => EF.Functions.Like(t, pattern, LikeEscape));

    internal static bool IsStorageFullError(Exception e) => e is SqliteException { SqliteErrorCode: SqliteFull };

    internal static bool IsUniqueViolationError(Exception e) => e is SqliteException { SqliteExtendedErrorCode: SqliteConstraintUnique };

    /// <summary>SQLITE_BUSY (5) or SQLITE_LOCKED (6): another writer held the file past the busy timeout.</summary>
    internal static bool IsConflictError(Exception e) => e is SqliteException { SqliteErrorCode: 5 or 6 };

    private static bool LooksLikePostgreSql(string connectionString)
    {
        try
        {
            return !string.IsNullOrEmpty(new NpgsqlConnectionStringBuilder(connectionString).Host);
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void EnsureFolder(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        if (string.IsNullOrEmpty(builder.DataSource) || builder.DataSource == ":memory:")
        {
            return;
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }
    }
}
