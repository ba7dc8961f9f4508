using System.Reflection;
using System.Security.Claims;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Host.Hosting;
using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Packages;
using FluxWeb.Persistence;
using FluxWeb.Provenance.Filters;

namespace FluxWeb.Host.Endpoints;

/// <param name="Device">The first device served (what the model list's usability is judged on).</param>
/// <param name="Devices">Every device this process serves (<c>Inference:Devices</c>, <c>Inference:CpuWorkers</c>), and the GPUs <c>all</c> skipped, with why.</param>
/// <param name="Workers">The cluster's queue workers (issue 18), every process's, as <c>/admin/workers</c> shows them.</param>
/// <param name="WorkersUnavailable">Why <paramref name="Workers"/> is empty when the cluster's dispatcher did not answer; null otherwise.</param>
public sealed record HealthReport(string Status, string Version, DatabaseHealth Database, DeviceHealth Device, IReadOnlyList<ModelHealth> Models, ImageFilteringHealth ImageFiltering, IReadOnlyList<ServedDeviceHealth> Devices, IReadOnlyList<WorkerHealth> Workers, string? WorkersUnavailable = null);

/// <param name="Served">False for a GPU <c>Inference:Devices = all</c> found but cannot use (<paramref name="Reason"/> says why).</param>
public sealed record ServedDeviceHealth(string Id, bool Served, string Name, string Reason);

/// <summary>One queue worker of the cluster (issue 18), as <c>/admin/workers</c> shows it.</summary>
public sealed record WorkerHealth(string WorkerId, string Host, string Device, string State, bool Draining, string? LoadedModel, IReadOnlyList<Guid> CurrentJobs, int JobsDone, double GpuSeconds);

/// <summary>What anyone (a load balancer, Docker's health check) is told: healthy or not, and whether the database answers.</summary>
public sealed record HealthStatus(string Status, DatabaseHealth Database);

/// <summary>Whether outputs and reference images are screened (state "on", "installing" or "off"); "off" is said out loud with the reason, never implied.</summary>
public sealed record ImageFilteringHealth(bool Enabled, string State, string Description);

public sealed record DatabaseHealth(bool Reachable);

/// <param name="UnsupportedPrecisions">Compute precision → why this device cannot run it (packages computing in it are listed as unusable).</param>
public sealed record DeviceHealth(string Kind, bool Cuda, string Reason, IReadOnlyDictionary<string, string> UnsupportedPrecisions);

public sealed record ModelHealth(string Id, string? Family, string? Licence, bool? CommercialUse, bool Usable, string? Error);

/// <summary>
/// <c>GET /healthz</c>: every check runs for every caller, but only a signed-in administrator gets
/// the details (build version with its commit, device and driver, model packages and their
/// errors, filtering, the cluster's workers): for anyone else they would be a map of the server.
/// </summary>
internal static class HealthEndpoints
{
    public const string Path = "/healthz";

    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(Path, GetAsync)
            .AllowAnonymous()
            .ServesImageData(ImageDataKind.None)
            .WithName("Health")
            .WithDescription("Healthy or not, and whether the database answers; a signed-in administrator gets the full report (version, device, models, filtering, workers).")
            .Produces<HealthStatus>()
            .Produces<HealthStatus>(StatusCodes.Status503ServiceUnavailable);
        return endpoints;
    }

    private static async Task<IResult> GetAsync(HttpContext http, DatabaseMigrator database, ExecutionDeviceProbe devices, DevicePlan plan, ModelCatalog catalog, ImageContentFilter imageFilter, WorkerAdministration workerAdministration, CancellationToken cancellationToken)
    {
        var reachable = await database.CanConnectAsync(cancellationToken);
        var statusCode = reachable ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        var status = reachable ? "Healthy" : "Unhealthy";
        // Probed on the first check whoever asks, so the device is known (and logged) before a job needs it.
        var device = devices.Device;
        if (!http.User.IsInRole(Roles.Admin))
        {
            return Results.Json(new HealthStatus(status, new DatabaseHealth(reachable)), statusCode: statusCode);
        }

        var models = catalog.List()
            .Select(m => new ModelHealth(m.Id, m.Manifest?.Family, m.Manifest?.Licence?.Id, m.Manifest?.Licence?.CommercialUse, m.IsUsable, m.Problem))
            .ToList();

        List<WorkerHealth> workers = [];
        string? workersUnavailable = null;
        try
        {
            workers = [.. (await workerAdministration.ListAsync(ChangeActor.Ui(http.User.FindFirstValue(ClaimTypes.NameIdentifier) ?? ""), cancellationToken))
                .Select(w => new WorkerHealth(w.WorkerId, w.Host, w.DeviceId, w.State.ToString(), w.Draining, w.LoadedModelId, w.CurrentJobs, w.JobsDone, w.GpuSeconds))];
        }
        catch (WorkersUnavailableException ex)
        {
            // The rest of the report is this process's own and still true: say what is missing instead of failing it.
            workersUnavailable = ex.Message;
        }
        catch (AdminAccessDeniedException)
        {
            // The role in the cookie is older than the database's: no longer an administrator, so the short answer.
            return Results.Json(new HealthStatus(status, new DatabaseHealth(reachable)), statusCode: statusCode);
        }
        var report = new HealthReport(
            status,
            Version,
            new DatabaseHealth(reachable),
            new DeviceHealth(device.Kind == ExecutionDeviceKind.Cuda ? "CUDA" : "CPU", device.IsCuda, device.Reason, device.UnsupportedPrecisions),
            models,
            new ImageFilteringHealth(imageFilter.Status.Enabled, imageFilter.Status.StateName, imageFilter.Status.Description),
            [
                .. plan.Devices.Select(d => new ServedDeviceHealth(d.Id, true, d.Device.Name, d.Device.Reason)),
                .. plan.Skipped.Select(s => new ServedDeviceHealth(s.Id, false, s.Id, s.Reason)),
            ],
            workers,
            workersUnavailable);

        return Results.Json(report, statusCode: statusCode);
    }

    private static string Version { get; } =
        typeof(HealthEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
}
