using System.Globalization;
using Microsoft.AspNetCore.StaticAssets;
using Microsoft.Extensions.FileProviders;

namespace FluxWeb.Host.Hosting;

/// <summary>
/// The build's static assets (Blazor's script, MudBlazor, the scoped CSS, wwwroot) as endpoints,
/// guarded against a web root that does not hold them. ASP.NET Core's own endpoint answers an
/// asset it cannot find with an empty <c>200</c>, which a browser takes for a real, empty
/// script or style sheet (and blocks on its integrity hash): here it is a <c>404</c> and an error
/// in the log, and every asset is checked once at start-up so a wrong content root or an
/// incomplete copy is reported before anyone opens the page.
/// </summary>
internal static partial class StaticAssetFiles
{
    public static void MapCheckedStaticAssets(this WebApplication app)
    {
        var environment = app.Environment;
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(StaticAssetFiles).FullName!);
        // The app's own files and its packages' (scripts, styles, fonts): the same for everyone, nothing of any image.
        var assets = app.MapStaticAssets().AllowAnonymous().ServesImageData(ImageDataKind.None);
        assets.Add(endpoint =>
        {
            if (endpoint.Metadata.OfType<StaticAssetDescriptor>().FirstOrDefault() is not { } asset || endpoint.RequestDelegate is not { } serve)
            {
                return;
            }

            var reported = 0;
            endpoint.RequestDelegate = context =>
            {
                if (Problem(environment.WebRootFileProvider, asset) is { } problem)
                {
                    // Once per asset at error level: a page view asks for the same files again and again.
                    if (Interlocked.Exchange(ref reported, 1) == 0)
                    {
                        LogMissingAsset(logger, asset.Route, problem, environment.WebRootPath);
                    }

                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    return Task.CompletedTask;
                }

                return serve(context);
            };
        });

        app.Lifetime.ApplicationStarted.Register(() => CheckAll(app.Services, environment, logger));
    }

    /// <summary>Why <paramref name="asset"/> cannot be served as the manifest describes it, or <see langword="null"/>.</summary>
    internal static string? Problem(IFileProvider webRoot, StaticAssetDescriptor asset)
    {
        var file = webRoot.GetFileInfo(asset.AssetPath);
        if (!file.Exists || file.IsDirectory)
        {
            return $"{asset.AssetPath} is not in the web root";
        }

        var declared = asset.ResponseHeaders.FirstOrDefault(h => string.Equals(h.Name, "Content-Length", StringComparison.OrdinalIgnoreCase))?.Value;
        return declared is not null && long.TryParse(declared, NumberStyles.None, CultureInfo.InvariantCulture, out var length) && length != file.Length
            ? $"{asset.AssetPath} has {file.Length} bytes where the build's manifest says {length}"
            : null;
    }

    private static void CheckAll(IServiceProvider services, IWebHostEnvironment environment, ILogger logger)
    {
        var assets = services.GetRequiredService<EndpointDataSource>().Endpoints
            .Select(e => e.Metadata.GetMetadata<StaticAssetDescriptor>())
            .OfType<StaticAssetDescriptor>()
            .ToList();
        var problems = assets
            .Select(a => Problem(environment.WebRootFileProvider, a))
            .OfType<string>()
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (problems.Count == 0)
        {
            LogAssetsChecked(logger, assets.Count, environment.WebRootPath);
            return;
        }

        LogAssetsMissing(logger, problems.Count, assets.Count, environment.WebRootPath, environment.ContentRootPath, string.Join("; ", problems.Take(10)));
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Static asset {Route} answered 404: {Problem} (web root {WebRoot}).")]
    private static partial void LogMissingAsset(ILogger logger, string route, string problem, string webRoot);

    [LoggerMessage(Level = LogLevel.Information, Message = "All {Count} static asset endpoints have their files under {WebRoot}.")]
    private static partial void LogAssetsChecked(ILogger logger, int count, string webRoot);

    [LoggerMessage(Level = LogLevel.Critical, Message = "{Missing} of {Count} static asset endpoints cannot be served from the web root {WebRoot} (content root {ContentRoot}); the UI will not work and they answer 404. The folder beside the executable must be a complete `dotnet publish` output. First problems: {Problems}")]
    private static partial void LogAssetsMissing(ILogger logger, int missing, int count, string webRoot, string contentRoot, string problems);
}
