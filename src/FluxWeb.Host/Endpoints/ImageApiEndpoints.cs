using System.Text.Json.Serialization;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Images;
using FluxWeb.Host.Hosting;

namespace FluxWeb.Host.Endpoints;

/// <summary>One of the caller's stored images; <c>Url</c> serves it, <c>DownloadUrl</c> as an attachment.</summary>
public sealed record ImageApiItem(
    Guid Id,
    StoredImageKind Kind,
    int Width,
    int Height,
    DateTime CreatedUtc,
    Guid? JobId,
    string? ModelId,
    string? LicenceId,
    bool? CommercialUse,
    [property: JsonNumberHandling(JsonNumberHandling.WriteAsString)] ulong? Seed,
    string? Prompt,
    string? SafetyVerdict,
    string Url,
    string DownloadUrl);

public sealed record ImageApiPage(IReadOnlyList<ImageApiItem> Items, int Page, int PageSize, int Total);

/// <summary>
/// <c>GET /api/v1/images</c>: the caller's images, licence-filtered. Uploads are
/// <see cref="ImageUploadEndpoints"/>, shared with the Studio.
/// </summary>
internal static class ImageApiEndpoints
{
    public static IEndpointRouteBuilder MapImageApiEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet($"{JobUrls.ApiPrefix}/images", ListAsync)
            .RequireAuthorization(ApiAuthentication.ApiPolicy)
            .ServesImageData(ImageDataKind.Derived)
            .WithTags("Images")
            .WithName("ListImages")
            .WithSummary("Your images, newest first")
            .WithDescription("Outputs (default), uploads or masks, paged. Images your account's licence does not let it receive are left out; a page past the end is empty.")
            .Produces<ImageApiPage>();

        return endpoints;
    }

    private static async Task<IResult> ListAsync(HttpContext http, ImageListing listing, StoredImageKind? kind, int? page, int? pageSize, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        if (actor is null)
        {
            return Results.Unauthorized();
        }

        // An administrator's own list through the API is still their own: never everyone's.
        var result = await listing.ListOwnAsync(actor, kind ?? StoredImageKind.Output, page ?? 0, pageSize ?? 50, cancellationToken);
        var items = result.Images.Select(i => new ImageApiItem(
            i.Id, i.Kind, i.Width, i.Height, i.CreatedUtc, i.JobId, i.ModelId, i.LicenceId, i.CommercialUse, i.Seed, i.Prompt, i.SafetyVerdict,
            JobUrls.Image(i.Id), $"{JobUrls.Image(i.Id)}?download=true")).ToList();
        return Results.Ok(new ImageApiPage(items, result.Page, result.PageSize, result.Total));
    }
}
