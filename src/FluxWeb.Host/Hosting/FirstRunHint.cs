using FluxWeb.Inference.Packages;

namespace FluxWeb.Host.Hosting;

/// <summary>
/// One line at start-up when no model package is usable: nobody can generate, and the operator
/// reading the log learns how to fix it with a command that works for the way this server was
/// started (a source checkout, the published executable, or Docker).
/// </summary>
internal sealed partial class FirstRunHint(ModelCatalog catalog, ILogger<FirstRunHint> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var models = catalog.List();
        if (models.Any(m => m.IsUsable))
        {
            return Task.CompletedTask;
        }

        var broken = models.Count == 0 ? "" : $" ({models.Count} package folder(s) there do not load; /admin/models and `fluxweb models list` say why)";
        LogNoModel(logger, catalog.ModelsDirectory, broken, LaunchCommand.Current().CreateDemo(catalog.ModelsDirectory));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Warning, Message = "No model is usable in {ModelsDirectory}{Broken}: nobody can generate until one is installed. An administrator can click \"Install the demo model\" on the admin Models page (/admin/models), or run: {Command}")]
    private static partial void LogNoModel(ILogger logger, string modelsDirectory, string broken, string command);
}

/// <summary>How this process was started, so that a hint names a <c>fluxweb</c> command the operator can paste.</summary>
internal sealed record LaunchCommand(string? ProcessPath, string? EntryAssembly, string BaseDirectory, bool InContainer, string MachineName)
{
    public static LaunchCommand Current() => new(
        Environment.ProcessPath,
        typeof(FirstRunHint).Assembly.Location,
        AppContext.BaseDirectory,
        File.Exists("/.dockerenv") || File.Exists("/run/.containerenv") || Environment.GetEnvironmentVariable("DOTNET_RUNNING_IN_CONTAINER") == "true",
        Environment.MachineName);

    public string CreateDemo(string modelsDirectory)
    {
        var models = Quote(Path.GetFullPath(modelsDirectory));
        // First: a checkout may itself be in a (development) container, and there the checkout's command is the one that works.
        if (SourceCheckout() is { } root)
        {
            return $"cd {Quote(root)} && dotnet run --project src/FluxWeb.Host/FluxWeb.Host.csproj -c Release -- models create-demo --models {models}";
        }

        // The image's environment names its models folder (FluxWeb__ModelsDirectory), and `docker exec` inherits it.
        if (InContainer)
        {
            return $"docker exec {MachineName} {Executable()} models create-demo   (on the Docker host; {MachineName} is this container's host name, its id unless you named it)";
        }

        return $"{Executable()} models create-demo --models {models}";
    }

    /// <summary>The apphost (<c>/app/fluxweb</c>), or <c>dotnet fluxweb.dll</c> when started through the muxer.</summary>
    private string Executable()
    {
        var process = ProcessPath ?? "fluxweb";
        return Path.GetFileNameWithoutExtension(process).Equals("dotnet", StringComparison.OrdinalIgnoreCase) && EntryAssembly is { Length: > 0 }
            ? $"{Quote(process)} {Quote(EntryAssembly)}"
            : Quote(process);
    }

    /// <summary>The repository root when this runs from a build under a source checkout (<c>./build.sh run</c>, <c>dotnet run</c>).</summary>
    private string? SourceCheckout()
    {
        for (var folder = new DirectoryInfo(BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "FluxWeb.sln")) && File.Exists(Path.Combine(folder.FullName, "build.sh")))
            {
                return folder.FullName;
            }
        }

        return null;
    }

    private static string Quote(string value) =>
        value.Length > 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || "/._-+:@%=,".Contains(c, StringComparison.Ordinal)) ? value : $"'{value.Replace("'", "'\\''", StringComparison.Ordinal)}'";
}
