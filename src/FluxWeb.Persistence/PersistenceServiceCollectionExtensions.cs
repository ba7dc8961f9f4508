using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FluxWeb.Persistence;

public static class PersistenceServiceCollectionExtensions
{
    public static IServiceCollection AddPersistence(this IServiceCollection services)
    {
        services.AddOptions<PersistenceOptions>()
            .BindConfiguration(PersistenceOptions.SectionName)
            .Validate(o => !string.IsNullOrWhiteSpace(o.DataDirectory), "FluxWeb:DataDirectory must not be empty.")
            .ValidateOnStart();
        services.AddOptions<DatabaseOptions>()
            .BindConfiguration(DatabaseOptions.SectionName)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<DatabaseOptions>, DatabaseOptionsValidator>();
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<DatabaseOptions>>().Value.Resolve(sp.GetRequiredService<IOptions<PersistenceOptions>>().Value));

        // A context per operation: components and background services ask the factory for a
        // short-lived context instead of holding one for the life of a circuit.
        services.AddDbContextFactory<FluxWebDbContext>((sp, options) =>
        {
            Configure(options, sp.GetRequiredService<DatabaseConnection>());
            // Interceptors registered as services apply to every context (diagnostics; tests use one to make the database refuse writes).
            options.AddInterceptors(sp.GetServices<IInterceptor>());
        });
        services.AddSingleton<DatabaseMigrator>();
        return services;
    }

    public static void Configure(DbContextOptionsBuilder options, DatabaseConnection database) =>
        database.Dialect.Configure(options, database.ConnectionString);

    /// <summary>The default SQLite database in <paramref name="persistence"/>'s data folder (tests and tools that open it directly).</summary>
    public static void Configure(DbContextOptionsBuilder options, PersistenceOptions persistence) =>
        Configure(options, new DatabaseConnection(DatabaseProvider.Sqlite, persistence.ResolveConnectionString()));
}
