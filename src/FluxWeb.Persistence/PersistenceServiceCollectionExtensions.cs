using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FluxWeb.Persistence;

public static class PersistenceServiceCollectionExtensions
{
    /// <summary>The assembly that holds the EF Core migrations (the top-level <c>migrations/</c> project).</summary>
    public const string MigrationsAssembly = "FluxWeb.Migrations";

    private static readonly SqliteConnectionSetup ConnectionSetup = new();

    public static IServiceCollection AddPersistence(this IServiceCollection services)
    {
        services.AddOptions<PersistenceOptions>()
            .BindConfiguration(PersistenceOptions.SectionName)
            .Validate(o => !string.IsNullOrWhiteSpace(o.DataDirectory), "FluxWeb:DataDirectory must not be empty.")
            .ValidateOnStart();

        // A context per operation: components and background services ask the factory for a
        // short-lived context instead of holding one for the life of a circuit.
        services.AddDbContextFactory<FluxWebDbContext>((sp, options) =>
        {
            var persistence = sp.GetRequiredService<IOptions<PersistenceOptions>>().Value;
            Configure(options, persistence);
            // Interceptors registered as services apply to every context (diagnostics; tests use one to make the database refuse writes).
            options.AddInterceptors(sp.GetServices<IInterceptor>());
        });
        services.AddSingleton<DatabaseMigrator>();
        return services;
    }

    public static void Configure(DbContextOptionsBuilder options, PersistenceOptions persistence)
    {
        var connectionString = persistence.ResolveConnectionString();
        EnsureSqliteFolder(connectionString);
        options.UseSqlite(connectionString, sqlite => sqlite.MigrationsAssembly(MigrationsAssembly))
            .AddInterceptors(ConnectionSetup);
    }

    private static void EnsureSqliteFolder(string connectionString)
    {
        var builder = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(connectionString);
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
