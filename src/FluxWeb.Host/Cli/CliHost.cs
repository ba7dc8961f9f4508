using FluxWeb.Application;
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
    /// <param name="migrate">Commands that touch accounts or jobs bring the database up to date; pure inference commands leave it alone.</param>
    public static async Task<IHost> StartAsync(IReadOnlyDictionary<string, string?> overrides, CancellationToken cancellationToken, bool migrate = true)
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

        var host = builder.Build();
        if (migrate)
        {
            await host.Services.GetRequiredService<DatabaseMigrator>().MigrateAsync(cancellationToken);
        }

        return host;
    }
}
