using FluxWeb.Application;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Jobs;
using FluxWeb.Host.Hosting;
using FluxWeb.Inference;
using FluxWeb.Persistence;
using FluxWeb.Provenance;

namespace FluxWeb.Host.Cli;

/// <summary>
/// The same modules as the web app, without the web server: commands see the same database,
/// models and configuration as a running server given the same --data/--models.
/// </summary>
internal static class CliHost
{
    /// <param name="migrate">Commands that touch accounts or jobs bring the database up to date (and load the stored content policy); pure inference commands leave it alone.</param>
    /// <param name="worker">Runs the job worker in this process (started with the host): <c>generate --user</c> waits for its own job.</param>
    public static async Task<IHost> StartAsync(IReadOnlyDictionary<string, string?> overrides, CancellationToken cancellationToken, bool migrate = true, bool worker = false)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            ContentRootPath = AppContext.BaseDirectory,
            Args = [],
        });
        builder.Configuration.AddCommandLineOverrides(overrides);
        // Commands print their own results; framework chatter stays out of stdout.
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);

        builder.Services.AddPersistence();
        builder.Services.AddAccounts();
        builder.Services.AddInference();
        builder.Services.AddProvenance();
        builder.Services.AddOutputs();
        builder.Services.AddJobs();
        builder.Services.AddAdministration();
        if (worker)
        {
            builder.Services.AddJobWorker();
        }

        var host = builder.Build();
        if (migrate)
        {
            await host.Services.GetRequiredService<DatabaseMigrator>().MigrateAsync(cancellationToken);
            // The admins' block list, so a prompt typed at the command line meets the same policy as one in the Studio.
            await host.Services.GetRequiredService<ContentPolicy>().ApplyStoredAsync(cancellationToken);
        }

        if (worker)
        {
            await host.StartAsync(cancellationToken);
        }

        return host;
    }
}
