using System.Linq.Expressions;
using FluxWeb.Persistence.Dialects;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Persistence;

/// <summary>
/// Everything FluxWeb does differently on SQLite and on PostgreSQL, in one place: how to connect, what to do
/// after migrating, how to make a check-then-write atomic across processes, case-insensitive matching, and
/// which failure means "the disk is full". Every other query is written once for both (quoted identifiers
/// in raw SQL, conditional updates, upserts with ON CONFLICT).
/// </summary>
public abstract class DatabaseDialect
{
    private protected DatabaseDialect()
    {
    }

    /// <summary>The escape character of every LIKE pattern FluxWeb builds.</summary>
    public const string LikeEscape = "\\";

    public static DatabaseDialect Sqlite { get; } = new SqliteDialect();

    public static DatabaseDialect PostgreSql { get; } = new PostgreSqlDialect();

    public abstract DatabaseProvider Provider { get; }

    /// <summary>The assembly holding this provider's migrations (<c>migrations/</c>, <c>migrations/PostgreSql/</c>).</summary>
    public abstract string MigrationsAssembly { get; }

    public static DatabaseDialect For(DatabaseProvider provider) => provider switch
    {
        DatabaseProvider.Sqlite => Sqlite,
        DatabaseProvider.PostgreSql => PostgreSql,
        _ => throw new ArgumentOutOfRangeException(nameof(provider), provider, "Cluster:Provider must be Sqlite or PostgreSQL."),
    };

    /// <summary>The dialect of the database <paramref name="db"/> is connected to.</summary>
    public static DatabaseDialect Of(DbContext db) => db.Database.ProviderName == PostgreSqlDialect.EfProviderName ? PostgreSql : Sqlite;

    /// <summary>Points <paramref name="options"/> at the database, with this provider's migrations and connection settings.</summary>
    public abstract void Configure(DbContextOptionsBuilder options, string connectionString);

    /// <summary>Null when <paramref name="connectionString"/> suits this provider, else what is wrong with it (never its secrets).</summary>
    public abstract string? CheckConnectionString(string connectionString);

    /// <summary>Where the database is, without credentials.</summary>
    public abstract string Describe(string connectionString);

    /// <summary>Provider-specific model settings, applied after the shared mapping.</summary>
    internal virtual void ConfigureModel(ModelBuilder builder)
    {
    }

    /// <summary>Run after every migration check at start.</summary>
    internal virtual Task AfterMigrationAsync(FluxWebDbContext db, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Call first inside a write transaction: until it ends, every other transaction (in any process) that
    /// asks for the same <paramref name="key"/> waits. Makes a check-then-write (a quota reservation) atomic.
    /// </summary>
    public abstract Task LockAsync(FluxWebDbContext db, string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// <c>text LIKE pattern</c> with <c>\</c> as the escape character, ignoring letter case: SQLite's LIKE
    /// ignores the case of ASCII letters; PostgreSQL's ILIKE ignores the case of every letter.
    /// </summary>
    public abstract Expression<Func<T, bool>> LikeIgnoringCase<T>(Expression<Func<T, string?>> text, string pattern);

    /// <summary>True when <paramref name="exception"/> (or one it wraps) is the database refusing a write because its disk is full.</summary>
    public static bool IsStorageFull(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (SqliteDialect.IsStorageFullError(e) || PostgreSqlDialect.IsStorageFullError(e))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True when <paramref name="exception"/> (or one it wraps) is a unique index or key refusing a second equal row.</summary>
    public static bool IsUniqueViolation(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (SqliteDialect.IsUniqueViolationError(e) || PostgreSqlDialect.IsUniqueViolationError(e))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// True when <paramref name="exception"/> (or one it wraps) is a write that lost to a concurrent one and may simply
    /// be tried again: PostgreSQL's deadlock or serialization failure, SQLite's busy or locked file.
    /// </summary>
    public static bool IsConflict(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (SqliteDialect.IsConflictError(e) || PostgreSqlDialect.IsConflictError(e))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Puts <paramref name="body"/>'s one parameter's place with <paramref name="text"/>'s body, giving a predicate over <typeparamref name="T"/>.</summary>
    private protected static Expression<Func<T, bool>> Compose<T>(Expression<Func<T, string?>> text, Expression<Func<string?, bool>> body) =>
        Expression.Lambda<Func<T, bool>>(new Substitute(body.Parameters[0], text.Body).Visit(body.Body)!, text.Parameters);

    private sealed class Substitute(ParameterExpression from, Expression to) : ExpressionVisitor
    {
        protected override Expression VisitParameter(ParameterExpression node) => node == from ? to : base.VisitParameter(node);
    }
}
