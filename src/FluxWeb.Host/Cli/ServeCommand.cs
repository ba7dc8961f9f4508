using System.CommandLine;
using FluxWeb.Host.Hosting;

namespace FluxWeb.Host.Cli;

internal static class ServeCommand
{
    public static readonly Option<string?> UrlsOption = new("--urls")
    {
        Description = "Addresses to listen on, e.g. http://localhost:5000 (configuration key urls).",
    };

    public static Command Create()
    {
        var serve = new Command("serve", "Run the web app (the default when no command is given).") { UrlsOption };
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

        var app = WebApp.Build([.. parse.UnmatchedTokens], overrides);
        await app.InitialiseAsync(cancellationToken);
        await app.RunAsync();
        return 0;
    }
}
