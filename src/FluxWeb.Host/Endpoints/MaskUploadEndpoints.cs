using System.Security.Claims;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Images;
using FluxWeb.Host.Hosting;
using FluxWeb.Host.Uploads;
using FluxWeb.Provenance.Decoding;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace FluxWeb.Host.Endpoints;

/// <summary>What the Studio gets back for a saved mask; <c>Id</c> names it in <c>GET /api/v1/uploads/masks/{id}</c>.</summary>
public sealed record MaskUploadResponse(string Id, int Width, int Height, long PaintedPixels);

/// <summary>
/// Masks travel as PNG over plain HTTP from the browser (never over the Blazor circuit):
/// <c>POST /api/v1/uploads/masks</c> with the PNG as the body, and <c>GET /api/v1/uploads/masks/{id}</c> for its owner
/// (masks only: any other image id is "no such mask", whoever owns it).
/// </summary>
internal static class MaskUploadEndpoints
{
    public const string CollectionPath = "/api/v1/uploads/masks";

    public static IEndpointRouteBuilder MapMaskUploads(this IEndpointRouteBuilder endpoints)
    {
        var masks = endpoints.MapGroup(CollectionPath).RequireAuthorization(ApiAuthentication.ApiPolicy).WithTags("Images");
        // The content type is checked by the handler, not by routing, so a wrong one gets a 415 with a reason.
        masks.MapPost("", UploadAsync)
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy)
            .RequireApiRequestHeader()
            .WithName("UploadMask")
            .ServesImageData(ImageDataKind.Derived)
            .Produces<MaskUploadResponse>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status507InsufficientStorage);
        masks.MapGet("{id:guid}", GetAsync)
            .ServesImageData(ImageDataKind.Bytes)
            .WithName("GetMask")
            .Produces(StatusCodes.Status200OK, contentType: "image/png")
            .ProducesProblem(StatusCodes.Status404NotFound);
        return endpoints;
    }

    private static async Task<IResult> UploadAsync(HttpContext context, MaskUploadStore store, ILogger<MaskUploadStore> logger, CancellationToken cancellationToken)
    {
        var request = context.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType) || !contentType.MediaType.Equals("image/png", StringComparison.OrdinalIgnoreCase))
        {
            return Problem(StatusCodes.Status415UnsupportedMediaType, "Masks are PNG",
                "Send the mask PNG itself as the request body, with Content-Type: image/png.");
        }

        if (request.ContentLength > MaskUploadStore.MaxMaskBytes)
        {
            return Refused(MaskUploadStore.TooLarge(), logger);
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
        {
            bodyLimit.MaxRequestBodySize = MaskUploadStore.MaxMaskBytes;
        }

        var userId = context.User.FindFirstValue(ClaimTypes.NameIdentifier)!;
        try
        {
            var body = await ReadBoundedAsync(request.Body, MaskUploadStore.MaxMaskBytes, cancellationToken);
            var mask = await store.SaveAsync(userId, body, "api", cancellationToken);
            logger.LogInformation("Stored mask {MaskId} ({Width}×{Height}, {PaintedPixels} painted pixels) for user {UserId}", mask.Id, mask.Width, mask.Height, mask.PaintedPixels, userId);
            return Results.Created($"{CollectionPath}/{mask.Id:N}", new MaskUploadResponse(mask.Id.ToString("N"), mask.Width, mask.Height, mask.PaintedPixels));
        }
        catch (UnsafeImageException refusal)
        {
            return Refused(refusal, logger);
        }
        catch (InvalidImageException licence) when (licence.StatusCode == InvalidImageException.LicenceRefused)
        {
            logger.LogInformation("Refused a mask upload by the licence: {Message}", licence.Message);
            return JobEndpoints.LicenceRefused(licence.Message);
        }
        catch (BadHttpRequestException tooLarge) when (tooLarge.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Refused(MaskUploadStore.TooLarge(), logger);
        }
        catch (ImageStorageException notStored)
        {
            return ImageUploadEndpoints.NotStored(notStored);
        }
    }

    /// <summary>Only masks, only their painter's (administrators included), through the same licence-checked door as every image.</summary>
    private static async Task<IResult> GetAsync(Guid id, HttpContext context, ImageAccess images, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(context.User);
        var read = actor is null ? ImageAccessResult.NotFound
            : await images.OpenAsync(actor, id, new ImageRead(LicencedAction.View, "api") { Kinds = MaskOnly, OwnerOnly = true }, cancellationToken);
        if (read.Outcome == ImageAccessOutcome.LicenceRefused)
        {
            return JobEndpoints.LicenceRefused(read.Reason);
        }

        if (!read.Allowed)
        {
            return Problem(StatusCodes.Status404NotFound, "No such mask", "None of your saved masks has this id.");
        }

        // Private, and revalidated by its tag (a cheap 304) like every image, so access is decided on each use.
        context.Response.Headers.CacheControl = "private, no-cache";
        context.Response.Headers.XContentTypeOptions = "nosniff";
        return Results.File(read.File.FullPath, "image/png", entityTag: new EntityTagHeaderValue($"\"{read.File.Image.Sha256}\""));
    }

    private static readonly IReadOnlySet<StoredImageKind> MaskOnly = new HashSet<StoredImageKind> { StoredImageKind.Mask };

    private static async Task<byte[]> ReadBoundedAsync(Stream body, long limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                throw MaskUploadStore.TooLarge();
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static IResult Refused(UnsafeImageException refusal, ILogger logger)
    {
        logger.LogInformation("Refused a mask upload ({Reason}): {Message}", refusal.Reason, refusal.Message);
        var title = refusal.SuggestedStatusCode switch
        {
            StatusCodes.Status413PayloadTooLarge => "Mask too large",
            StatusCodes.Status415UnsupportedMediaType => "Not a PNG",
            _ => "Unreadable mask",
        };
        return Problem(refusal.SuggestedStatusCode, title, refusal.Message);
    }

    private static IResult Problem(int statusCode, string title, string detail) =>
        Results.Problem(detail: detail, statusCode: statusCode, title: title);
}
