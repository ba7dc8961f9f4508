using System.Globalization;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Quotas;
using FluxWeb.Host.Hosting;

namespace FluxWeb.Host.Endpoints;

/// <summary><c>GET /api/v1/usage</c>: the caller's own quota limits, today's use and the days before (the account's usage page, for scripts).</summary>
internal static class UsageEndpoints
{
    public const int DefaultDays = 30;

    public static IEndpointRouteBuilder MapUsageEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet($"{JobUrls.ApiPrefix}/usage", GetAsync)
            .RequireAuthorization(ApiAuthentication.ApiPolicy)
            .ServesImageData(ImageDataKind.None)
            .WithTags("Usage")
            .WithName("GetMyUsage")
            .WithSummary("Your quota limits and usage")
            .WithDescription("Today's images, GPU-seconds (used, and held by your waiting and running jobs) and waiting jobs against your limits (null: unlimited), when the quota day resets, and the last `days` quota days (default 30, at most 366) on which anything was counted, newest first.")
            .Produces<UsageOfMine>()
            .ProducesProblem(StatusCodes.Status400BadRequest);
        return endpoints;
    }

    private static async Task<IResult> GetAsync(HttpContext http, QuotaService quotas, int? days, CancellationToken cancellationToken)
    {
        if (JobActor.From(http.User) is not { } actor)
        {
            return Results.Unauthorized();
        }

        if (days is < 1 or > UsageOfMine.MaxDays)
        {
            return Results.Problem(
                statusCode: StatusCodes.Status400BadRequest,
                title: "Invalid days",
                detail: string.Create(CultureInfo.InvariantCulture, $"days must be between 1 and {UsageOfMine.MaxDays} (it was {days}); leave it out for the last {DefaultDays}."));
        }

        return Results.Ok(await quotas.GetUsageOfMineAsync(actor.UserId, days ?? DefaultDays, cancellationToken));
    }
}
