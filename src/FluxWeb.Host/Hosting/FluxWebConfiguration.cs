using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;

namespace FluxWeb.Host.Hosting;

/// <summary>
/// Configuration shared by every entry point. The repository's top-level <c>appsettings.json</c>
/// is copied next to the executable; it is read from there whatever the working directory, and
/// environment variables and command-line options still override it.
/// </summary>
internal static class FluxWebConfiguration
{
    public const string DataDirectoryKey = "FluxWeb:DataDirectory";
    public const string ModelsDirectoryKey = "FluxWeb:ModelsDirectory";
    public const string UrlsKey = "urls";

    public static void AddAppSettingsBesideExecutable(this IConfigurationManager configuration, string contentRoot)
    {
        var besideExecutable = Path.GetFullPath(AppContext.BaseDirectory);
        if (string.Equals(Path.GetFullPath(contentRoot).TrimEnd('/'), besideExecutable.TrimEnd('/'), StringComparison.Ordinal))
        {
            return;
        }

        var sources = configuration.Sources;
        var index = sources.ToList().FindIndex(s => s is JsonConfigurationSource json && json.Path == "appsettings.json");
        var source = new JsonConfigurationSource
        {
            FileProvider = new PhysicalFileProvider(besideExecutable),
            Path = "appsettings.json",
            Optional = true,
            ReloadOnChange = false,
        };
        sources.Insert(index < 0 ? 0 : index, source);
    }

    /// <summary>Values given as CLI options (<c>--data</c>, <c>--models</c>, <c>--urls</c>) win over every other source.</summary>
    public static void AddCommandLineOverrides(this IConfigurationManager configuration, IReadOnlyDictionary<string, string?> overrides)
    {
        if (overrides.Count > 0)
        {
            configuration.AddInMemoryCollection(overrides);
        }
    }
}
