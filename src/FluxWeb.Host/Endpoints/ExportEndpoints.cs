using System.Globalization;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Boards;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Host.Hosting;
using Microsoft.AspNetCore.Http.Features;

namespace FluxWeb.Host.Endpoints;

/// <summary>
/// What to download as a ZIP: <c>imageIds</c>, or everything a listing's filter matches (<c>source</c> mine, shared or
/// all; <c>search</c>, <c>model</c>, <c>board</c>, <c>favouritesOnly</c>, <c>fromUtc</c>, <c>toUtc</c>, <c>ownerId</c>).
/// </summary>
public sealed record ExportRequest(
    IReadOnlyList<Guid>? ImageIds,
    string? Source,
    string? Search,
    string? Model,
    Guid? Board,
    bool? FavouritesOnly,
    DateTime? FromUtc,
    DateTime? ToUtc,
    string? OwnerId);

public sealed record ExportSkipped(Guid? ImageId, string Reason);

/// <summary>A prepared ZIP: fetch <c>DownloadUrl</c> (same account) before <c>ExpiresUtc</c>; it is decided again then.</summary>
public sealed record ExportPrepared(string DownloadUrl, DateTimeOffset ExpiresUtc, int Images, long Bytes, long LimitBytes, IReadOnlyList<ExportSkipped> Skipped);

/// <summary>
/// ZIP downloads under <c>/api/v1/exports</c>, for the cookie and any API key (reading needs no generate scope):
/// <c>POST</c> checks a selection and answers where to fetch it, or why not (413 with the limit and the bytes asked,
/// before anything is streamed); <c>GET</c> streams it, each image through the licence-checked door again.
/// </summary>
internal static class ExportEndpoints
{
    public static IEndpointRouteBuilder MapExportEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var exports = endpoints.MapGroup($"{JobUrls.ApiPrefix}/exports").RequireAuthorization(ApiAuthentication.ApiPolicy).WithTags("Images");
        exports.MapPost("", PrepareAsync).WithName("PrepareZip")
            .WithSummary("Check a selection of images for a ZIP download")
            .WithDescription("Answers the URL to fetch the ZIP from (for 10 minutes, same account), how many images and bytes it holds, and which were left out and why (a Commercial account never receives a non-commercial output). 413 when it is over the limit an administrator set.")
            .ServesImageData(ImageDataKind.Derived)
            .RequireApiRequestHeader()
            .Produces<ExportPrepared>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        exports.MapGet("{ticket:guid}", DownloadAsync).WithName("DownloadZip")
            .WithSummary("The prepared ZIP: originals byte for byte, a .metadata.json per image, skipped.txt")
            .ServesImageData(ImageDataKind.Bytes)
            .Produces(StatusCodes.Status200OK, contentType: "application/zip").ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status413PayloadTooLarge);
        return endpoints;
    }

    private static IResult NotFound() => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found");

    private static ExportVia Via(HttpContext http) => ApiAuthentication.IsApiKey(http.User) ? ExportVia.ApiKey : ExportVia.Api;

    /// <summary>A refused plan: over the limit (or too many images) is 413, nothing downloadable is 400.</summary>
    internal static IResult Refused(ExportPlan plan) => plan.TooLarge
        ? Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Too large for one ZIP", detail: plan.Refusal,
            extensions: new Dictionary<string, object?> { ["limitBytes"] = plan.LimitBytes, ["bytes"] = plan.Bytes, ["images"] = plan.Entries.Count })
        : Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Nothing to download", detail: plan.Refusal,
            extensions: new Dictionary<string, object?> { ["skipped"] = plan.Skipped.Select(s => new ExportSkipped(s.ImageId, s.Reason)).ToList() });

    private static async Task<IResult> PrepareAsync(HttpContext http, ZipExport export, ExportRequest? request, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        if (actor is null)
        {
            return Results.Unauthorized();
        }

        // Through the API an administrator is a plain user unless signed in with the cookie (a key carries no role).
        GallerySource? source = request?.Source?.ToLowerInvariant() switch
        {
            null or "" or "mine" => GallerySource.Mine,
            "shared" => GallerySource.SharedWithMe,
            "all" => GallerySource.Everyone,
            _ => null,
        };
        if (request is null || source is null)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Not possible",
                detail: "Give imageIds, or a filter (search, model, board, favouritesOnly, fromUtc, toUtc) with source mine (default), shared or all (administrators).");
        }

        if (request.Search?.Length > GalleryFilter.MaxSearchLength)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Not possible", detail: $"search may have at most {GalleryFilter.MaxSearchLength} characters.");
        }

        var selection = new ExportSelection
        {
            ImageIds = request.ImageIds,
            Source = source.Value,
            Filter = new GalleryFilter
            {
                Search = request.Search,
                ModelId = request.Model,
                BoardId = request.Board,
                FavouritesOnly = request.FavouritesOnly == true,
                FromUtc = request.FromUtc?.ToUniversalTime(),
                ToUtc = request.ToUtc?.ToUniversalTime(),
                OwnerId = request.OwnerId,
            },
        };

        try
        {
            var (plan, ticket) = await export.PrepareAsync(actor, selection, Via(http), cancellationToken);
            return ticket is null
                ? Refused(plan)
                : Results.Ok(new ExportPrepared(ZipExport.Url(ticket.Id), ticket.ExpiresUtc, plan.Entries.Count, plan.Bytes, plan.LimitBytes, [.. plan.Skipped.Select(s => new ExportSkipped(s.ImageId, s.Reason))]));
        }
        catch (AdminAccessDeniedException)
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Administrators only", detail: "source all is for administrators signed in on the site.");
        }
    }

    private static async Task<IResult> DownloadAsync(HttpContext http, ZipExport export, Guid ticket, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        if (actor is null || await export.TicketAsync(actor, ticket, cancellationToken) is not { } prepared)
        {
            return NotFound();
        }

        var reader = actor with { IsAdmin = actor.IsAdmin && prepared.IsAdmin };
        ExportPlan plan;
        try
        {
            plan = await export.PlanDownloadAsync(reader, prepared, Via(http), cancellationToken);
        }
        catch (AdminAccessDeniedException)
        {
            return NotFound();
        }

        if (plan.Refused)
        {
            return Refused(plan);
        }

        http.Response.ContentType = "application/zip";
        http.Response.Headers.ContentDisposition = string.Create(CultureInfo.InvariantCulture, $"attachment; filename=\"fluxweb-{DateTime.UtcNow:yyyy-MM-dd_HHmmss}.zip\"");
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.XContentTypeOptions = "nosniff";
        // Sent as it is written: a large ZIP is never held in memory (nor by response compression).
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await export.WriteAsync(reader, plan, http.Response.Body, Via(http), cancellationToken);
        return Results.Empty;
    }
}
