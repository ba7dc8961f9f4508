using System.CommandLine;
using FluxWeb.Host.Hosting;

namespace FluxWeb.Host.Cli;

internal static class FluxWebCli
{
    public static readonly Option<string?> DataOption = new("--data")
    {
        Description = "Data folder: database, images, keys (configuration key FluxWeb:DataDirectory).",
        Recursive = true,
    };

    public static readonly Option<string?> ModelsOption = new("--models")
    {
        Description = "Models folder, one sub-folder per model package (configuration key FluxWeb:ModelsDirectory).",
        Recursive = true,
    };

    public static async Task<int> RunAsync(string[] args, CliOutput? output = null)
    {
        output ??= CliOutput.Console;
        var root = BuildRootCommand(output);
        var parse = root.Parse(args);
        // One line and a non-zero exit for anything the parser could not place, before any command runs (or a server starts).
        if (CommandLineErrors.Describe(parse) is { } error)
        {
            return output.Fail(error);
        }

        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                Output = output.Out,
                Error = output.Error,
            });
        }
        catch (Microsoft.Extensions.Hosting.HostAbortedException)
        {
            // Tools such as `dotnet ef` and the test host stop the app on purpose once it is built.
            throw;
        }
        catch (OperationCanceledException)
        {
            return output.Fail("cancelled.");
        }
        catch (Exception ex) when (ex is Microsoft.Extensions.Options.OptionsValidationException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            return output.Fail(ex.Message);
        }
    }

    internal static RootCommand BuildRootCommand(CliOutput output)
    {
        var serve = ServeCommand.Create();
        var root = new RootCommand("FluxWeb: a self-hosted studio for the FLUX.2 [klein] image models. Without a command it runs the web app.")
        {
            DataOption,
            ModelsOption,
            serve,
            WorkerCommand.Create(),
            UsersCommands.Create(output),
            ApiKeysCommands.Create(output),
            ModelsCommands.Create(output),
            GenerateCommand.Create(output),
            InspectCommands.Create(output),
            VerifyCommand.Create(output),
            SafetyCommands.Create(output),
            StorageCommands.Create(output),
        };
        // `fluxweb` alone behaves as `fluxweb serve`, and host configuration (--environment, --Section:Key=value) passes
        // through; CommandLineErrors refuses any other word, so a mistyped command never starts a server.
        root.TreatUnmatchedTokensAsErrors = false;
        root.Options.Add(ServeCommand.UrlsOption);
        root.SetAction(ServeCommand.RunAsync);
        return root;
    }

    /// <summary>CLI options become ordinary configuration keys, so appsettings and environment variables can set the same things.</summary>
    public static Dictionary<string, string?> ConfigurationOverrides(ParseResult parse)
    {
        var overrides = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (parse.GetValue(DataOption) is { Length: > 0 } data)
        {
            overrides[FluxWebConfiguration.DataDirectoryKey] = Path.GetFullPath(data);
        }

        if (parse.GetValue(ModelsOption) is { Length: > 0 } models)
        {
            overrides[FluxWebConfiguration.ModelsDirectoryKey] = Path.GetFullPath(models);
        }

        return overrides;
    }
}
