using System.Globalization;
using System.Security.Claims;
using System.Text;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Host.Hosting;

namespace FluxWeb.Host.Endpoints;

/// <summary>
/// The admin pages' CSV exports. Cookie sign-in and the Admin role only (<see cref="ApiAuthentication.AdminPolicy"/>):
/// an API key never authenticates here, whoever owns it.
/// </summary>
internal static class AdminEndpoints
{
    public const string UsageCsvPath = "/admin/usage.csv";
    public const string AuditCsvPath = "/admin/audit.csv";

    public static IEndpointRouteBuilder MapAdminEndpoints(this IEndpointRouteBuilder endpoints)
    {
        // Usage and the audit log name jobs, models and images: data about images, for administrators only.
        var admin = endpoints.MapGroup("").RequireAuthorization(ApiAuthentication.AdminPolicy).ExcludeFromDescription().ServesImageData(ImageDataKind.Derived);
        admin.MapGet(UsageCsvPath, UsageCsvAsync);
        admin.MapGet(AuditCsvPath, AuditCsvAsync);
        return endpoints;
    }

    private static async Task<IResult> UsageCsvAsync(HttpContext http, UsageReport usage, string? from, string? to, string? user, CancellationToken cancellationToken)
    {
        if (!TryDay(from, out var first) || !TryDay(to, out var last))
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid date", detail: "Dates are yyyy-MM-dd.");
        }

        try
        {
            var rows = await usage.QueryAsync(Actor(http), first, last, user, cancellationToken);
            return Csv(UsageReport.ToCsv(rows), "fluxweb-usage");
        }
        catch (AdminAccessDeniedException ex)
        {
            return NoLongerAdmin(ex);
        }
    }

    private static async Task<IResult> AuditCsvAsync(HttpContext http, AuditQuery audit, string? user, string? action, string? from, string? to, CancellationToken cancellationToken)
    {
        if (!TryDay(from, out var first) || !TryDay(to, out var last))
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid date", detail: "Dates are yyyy-MM-dd.");
        }

        try
        {
            return Csv(await audit.ExportCsvAsync(Actor(http), new AuditFilter(user, action, first, last), cancellationToken), "fluxweb-audit");
        }
        catch (AdminAccessDeniedException ex)
        {
            return NoLongerAdmin(ex);
        }
    }

    /// <summary>The cookie's administrator; the services check the role again in the database (the cookie may remember an old one).</summary>
    private static ChangeActor Actor(HttpContext http) => ChangeActor.Ui(http.User.FindFirstValue(ClaimTypes.NameIdentifier)!);

    private static IResult NoLongerAdmin(AdminAccessDeniedException ex) =>
        Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Not an administrator", detail: ex.Message);

    private static IResult Csv(string text, string name) =>
        Results.File(Encoding.UTF8.GetBytes(text), "text/csv; charset=utf-8", $"{name}-{DateTime.UtcNow:yyyyMMdd-HHmmss}.csv");

    private static bool TryDay(string? text, out DateOnly? day)
    {
        day = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
        {
            day = parsed;
            return true;
        }

        return false;
    }
}
