using System.Text.Json.Serialization;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Host.Hosting;
using FluxWeb.Persistence.Images;

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

/// <summary>What an image upload answers; <c>Id</c> goes into a generation's referenceImageIds or sourceImageId.</summary>
public sealed record ImageUploadResponse(Guid Id, int Width, int Height);

/// <summary>
/// <c>GET /api/v1/images</c> (the caller's images, licence-filtered) and <c>POST /api/v1/uploads/images</c>
/// (a reference or source picture through the hardened decoder).
/// </summary>
internal static class ImageApiEndpoints
{
    public const string UploadPath = "/api/v1/uploads/images";

    public static IEndpointRouteBuilder MapImageApiEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet($"{JobUrls.ApiPrefix}/images", ListAsync)
            .RequireAuthorization(ApiAuthentication.ApiPolicy)
            .WithTags("Images")
            .WithName("ListImages")
            .WithSummary("Your images, newest first")
            .WithDescription("Outputs (default) or uploads, paged. Images your account's licence does not let it receive are left out.")
            .Produces<ImageApiPage>();

        // The body is the image itself (PNG, JPEG or WebP); the decoder identifies it, so any content type is read.
        endpoints.MapPost(UploadPath, UploadAsync)
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy)
            .RequireApiRequestHeader()
            .WithTags("Images")
            .WithName("UploadImage")
            .WithSummary("Upload a reference or source image")
            .WithDescription("The raw image as the request body (PNG, JPEG or WebP, within the server's size caps). Answers 201 with its id.")
            .Accepts<Stream>("image/png", "image/jpeg", "image/webp")
            .Produces<ImageUploadResponse>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity);
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

    private static async Task<IResult> UploadAsync(HttpContext http, ImageStore images, ILogger<ImageStore> logger, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        if (actor is null)
        {
            return Results.Unauthorized();
        }

        try
        {
            var stored = await images.SaveUploadAsync(actor.UserId, http.Request.Body, fileName: null, screen: true, cancellationToken);
            logger.LogInformation("Stored upload {ImageId} ({Width}×{Height}) for user {UserId}", stored.Id, stored.Width, stored.Height, actor.UserId);
            return Results.Created(JobUrls.Image(stored.Id), new ImageUploadResponse(stored.Id, stored.Width, stored.Height));
        }
        catch (InvalidImageException ex)
        {
            return Results.Problem(statusCode: ex.StatusCode, title: "Image refused", detail: ex.Message);
        }
        catch (BadHttpRequestException tooLarge) when (tooLarge.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Image refused", detail: "The upload is larger than the server accepts.");
        }
    }
}
