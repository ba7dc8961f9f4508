using System.CommandLine;
using FluxWeb.Host.Hosting;

namespace FluxWeb.Host.Cli;

/// <summary>
/// <c>fluxweb worker</c>: a GPU node of a cluster. A silo with one queue worker per device this box serves
/// (<c>Inference:Devices</c>, <c>Inference:CpuWorkers</c>) and no web layer; it joins the cluster of its database
/// (<c>Cluster:Provider=PostgreSQL</c>) and runs what the cluster's dispatcher offers until stopped. On SQLite it is
/// a cluster of its own that drains the data folder's queue beside a <c>fluxweb serve --no-workers</c>.
/// </summary>
internal static class WorkerCommand
{
    public static Command Create()
    {
        var worker = new Command("worker", "Run queue workers without the web app (a GPU node of a cluster; see Cluster:Provider).");
        // Host configuration passes through (--Inference:CpuWorkers=2, --Cluster:SiloPort=11112); CommandLineErrors refuses anything else.
        worker.TreatUnmatchedTokensAsErrors = false;
        worker.SetAction(RunAsync);
        return worker;
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            ContentRootPath = AppContext.BaseDirectory,
            Args = [.. parse.UnmatchedTokens],
        });
        builder.Configuration.AddCommandLineOverrides(FluxWebCli.ConfigurationOverrides(parse));
        builder.Services.AddFluxWeb(FluxWebProcess.Worker);

        using var host = builder.Build();
        await host.Services.InitialiseAsync(FluxWebProcess.Worker, cancellationToken);
        await host.RunAsync(cancellationToken);
        return 0;
    }
}
