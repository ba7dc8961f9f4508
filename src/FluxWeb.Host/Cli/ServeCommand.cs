using System.CommandLine;
using FluxWeb.Host.Hosting;

namespace FluxWeb.Host.Cli;

internal static class ServeCommand
{
    public static readonly Option<string?> UrlsOption = new("--urls")
    {
        Description = "Addresses to listen on, e.g. http://localhost:5000 (configuration key urls).",
    };

    public static readonly Option<bool> NoWorkersOption = new("--no-workers")
    {
        Description = "Serve the web app without running jobs here: a web node of a cluster whose workers (fluxweb worker) run elsewhere.",
    };

    public static Command Create()
    {
        var serve = new Command("serve", "Run the web app (the default when no command is given).") { UrlsOption, NoWorkersOption };
        // Host configuration passes through to the web host; CommandLineErrors refuses anything else.
        serve.TreatUnmatchedTokensAsErrors = false;
        serve.SetAction(RunAsync);
        return serve;
    }

    public static async Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var overrides = FluxWebCli.ConfigurationOverrides(parse);
        if (parse.GetValue(UrlsOption) is { Length: > 0 } urls)
        {
            overrides[FluxWebConfiguration.UrlsKey] = urls;
        }

        var process = parse.GetValue(NoWorkersOption) ? FluxWebProcess.WebServerWithoutWorkers : FluxWebProcess.WebServer;
        var app = WebApp.Build([.. parse.UnmatchedTokens], overrides, process);
        await app.InitialiseAsync(cancellationToken);
        await app.RunAsync();
        return 0;
    }
}
