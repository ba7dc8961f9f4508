namespace FluxWeb.Host.Hosting;

/// <summary>
/// Where the web app finds its own files. The published app (and the Docker image, which starts
/// <c>/app/fluxweb</c> in <c>/home/fluxweb</c>) keeps <c>wwwroot/</c> and <c>appsettings.json</c> beside
/// the executable, so the content root is the executable's folder, not the working directory.
/// </summary>
internal static class WebHostLayout
{
    private const string ContentRootKey = "contentRoot";

    /// <summary>The executable's folder, unless <c>--contentRoot</c> or <c>ASPNETCORE_CONTENTROOT</c> names another one.</summary>
    public static WebApplicationOptions Options(string[] args)
    {
        var explicitRoot = new ConfigurationBuilder()
            .AddEnvironmentVariables("DOTNET_")
            .AddEnvironmentVariables("ASPNETCORE_")
            .AddCommandLine(args)
            .Build()[ContentRootKey];
        return new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = string.IsNullOrEmpty(explicitRoot) ? AppContext.BaseDirectory : null,
        };
    }

    /// <summary>
    /// A plain build (<c>dotnet run</c>, the tests) has no <c>wwwroot/</c> of its own: a development
    /// manifest beside the executable points at the source folders and NuGet packages instead.
    /// <c>dotnet publish</c> copies the files themselves and leaves that manifest out, so a published
    /// app never looks at the machine it was built on.
    /// </summary>
    public static void UseDevelopmentStaticWebAssets(this WebApplicationBuilder builder)
    {
        if (File.Exists(DevelopmentManifestPath(builder.Environment.ApplicationName)))
        {
            builder.WebHost.UseStaticWebAssets();
        }
    }

    internal static string DevelopmentManifestPath(string applicationName) =>
        Path.Combine(AppContext.BaseDirectory, $"{applicationName}.staticwebassets.runtime.json");
}
