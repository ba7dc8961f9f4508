using FluxWeb.Host.Hosting;

namespace FluxWeb.Host.Cli;

/// <summary>
/// The web app's composition without the web layer: commands see the same services, database,
/// models and configuration as a running server given the same --data/--models.
/// </summary>
internal static class CliHost
{
    /// <param name="migrate">Commands that touch accounts, keys, jobs or images run the database start-up steps (<see cref="FluxWebProcess.Command"/>); pure inference and model commands leave the data folder alone (<see cref="FluxWebProcess.InferenceCommand"/>).</param>
    /// <param name="worker">Runs the job worker in this process, started with the host (<see cref="FluxWebProcess.CommandWithWorker"/>): <c>generate --user</c> waits for its own job.</param>
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

        var process = worker ? FluxWebProcess.CommandWithWorker : migrate ? FluxWebProcess.Command : FluxWebProcess.InferenceCommand;
        builder.Services.AddFluxWeb(process);

        var host = builder.Build();
        await host.Services.InitialiseAsync(process, cancellationToken);
        if (process.RunsWorker)
        {
            await host.StartAsync(cancellationToken);
        }

        return host;
    }
}
