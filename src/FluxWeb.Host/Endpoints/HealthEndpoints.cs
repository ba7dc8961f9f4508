using System.Reflection;
using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Packages;
using FluxWeb.Persistence;
using FluxWeb.Provenance.Filters;

namespace FluxWeb.Host.Endpoints;

public sealed record HealthReport(string Status, string Version, DatabaseHealth Database, DeviceHealth Device, IReadOnlyList<ModelHealth> Models, ImageFilteringHealth ImageFiltering);

/// <summary>Whether outputs and reference images are screened; "off" is said out loud, never implied.</summary>
public sealed record ImageFilteringHealth(bool Enabled, string Description);

public sealed record DatabaseHealth(bool Reachable);

/// <param name="UnsupportedPrecisions">Compute precision → why this device cannot run it (packages computing in it are listed as unusable).</param>
public sealed record DeviceHealth(string Kind, bool Cuda, string Reason, IReadOnlyDictionary<string, string> UnsupportedPrecisions);

public sealed record ModelHealth(string Id, string? Family, string? Licence, bool? CommercialUse, bool Usable, string? Error);

internal static class HealthEndpoints
{
    public const string Path = "/healthz";

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(Path, GetAsync)
            .AllowAnonymous()
            .WithName("Health")
            .Produces<HealthReport>()
            .Produces<HealthReport>(StatusCodes.Status503ServiceUnavailable);
        return endpoints;
    }

    private static async Task<IResult> GetAsync(DatabaseMigrator database, ExecutionDeviceProbe devices, ModelCatalog catalog, ImageContentFilter imageFilter, CancellationToken cancellationToken)
    {
        var reachable = await database.CanConnectAsync(cancellationToken);
        var device = devices.Device;
        var models = catalog.List()
            .Select(m => new ModelHealth(m.Id, m.Manifest?.Family, m.Manifest?.Licence?.Id, m.Manifest?.Licence?.CommercialUse, m.IsUsable, m.Problem))
            .ToList();

        var report = new HealthReport(
            reachable ? "Healthy" : "Unhealthy",
            Version,
            new DatabaseHealth(reachable),
            new DeviceHealth(device.Kind == ExecutionDeviceKind.Cuda ? "CUDA" : "CPU", device.IsCuda, device.Reason, device.UnsupportedPrecisions),
            models,
            new ImageFilteringHealth(imageFilter.Status.Enabled, imageFilter.Status.Description));

        return Results.Json(report, statusCode: reachable ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }

    private static string Version { get; } =
        typeof(HealthEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
}
