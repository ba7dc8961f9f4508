using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace FluxWeb.Persistence.Dialects;

internal sealed class PostgreSqlDialect : DatabaseDialect
{
    public const string EfProviderName = "Npgsql.EntityFrameworkCore.PostgreSQL";

    // SQLSTATE 53100 disk_full.
    private const string DiskFull = "53100";

    // The first half of every advisory lock key FluxWeb takes ('FLUX'), so its locks never meet another application's.
    internal const int LockNamespace = 0x464C5558;

    public override DatabaseProvider Provider => DatabaseProvider.PostgreSql;

    public override string MigrationsAssembly => "FluxWeb.Migrations.PostgreSql";

    public override void Configure(DbContextOptionsBuilder options, string connectionString) =>
        options.UseNpgsql(connectionString, npgsql => npgsql.MigrationsAssembly(MigrationsAssembly));

    public override string? CheckConnectionString(string connectionString)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException ex)
        {
            return connectionString.Contains("Data Source", StringComparison.OrdinalIgnoreCase)
                ? "Cluster:ConnectionString is a SQLite connection string but Cluster:Provider is PostgreSQL: give the PostgreSQL server's (Host=…;Database=…;Username=…;Password=…) or set Cluster:Provider=Sqlite."
                : $"Cluster:ConnectionString is not a valid PostgreSQL connection string ({ex.Message}).";
        }

        return string.IsNullOrWhiteSpace(builder.Host)
            ? "Cluster:ConnectionString names no server: add Host=… (and Database=…, Username=…, Password=…)."
            : null;
    }

    public override string Describe(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return $"PostgreSQL database {builder.Database ?? builder.Username ?? "(default)"} on {builder.Host}:{builder.Port}";
    }

    /// <summary>
    /// SQLite ignores declared lengths and the code was written against that (an error message or an audit
    /// detail is never cut to fit); PostgreSQL would refuse the write, and a refused write of how a job ended
    /// leaves it running. So text is <c>text</c> here too: limits are the validators' job, at the boundary.
    /// </summary>
    internal override void ConfigureModel(ModelBuilder builder)
    {
        foreach (var property in builder.Model.GetEntityTypes().SelectMany(e => e.GetProperties()).Where(p => p.ClrType == typeof(string)))
        {
            property.SetMaxLength(null);
        }
    }

    /// <summary>
    /// A transaction-scoped advisory lock on (FluxWeb, hash of the key): released at commit or rollback,
    /// held by no table row, so it blocks only the transactions that ask for the same key. A hash collision
    /// only makes two keys wait for each other.
    /// </summary>
    public override Task LockAsync(FluxWebDbContext db, string key, CancellationToken cancellationToken = default) =>
        db.Database.CurrentTransaction is null
            ? throw new InvalidOperationException("LockAsync is called inside a transaction.")
            : db.Database.ExecuteSqlInterpolatedAsync($"SELECT pg_advisory_xact_lock({LockNamespace}, hashtext({key}))", cancellationToken);

    public override Expression<Func<T, bool>> LikeIgnoringCase<T>(Expression<Func<T, string?>> text, string pattern) =>
        Compose(text, t => EF.Functions.ILike(t!, pattern, LikeEscape));

    internal static bool IsStorageFullError(Exception e) => e is PostgresException { SqlState: DiskFull };

    internal static bool IsUniqueViolationError(Exception e) => e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    internal static bool IsConflictError(Exception e) => e is PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure };
}
