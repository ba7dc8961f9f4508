using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Licensing;
using FluxWeb.Host.Hosting;
using Microsoft.Net.Http.Headers;

namespace FluxWeb.Host.Endpoints;

/// <summary>Whether an image is a favourite, as the favourite routes answer it.</summary>
public sealed record FavouriteResponse(Guid Id, bool Favourite);

/// <summary>
/// The gallery's image routes beside <c>GET /api/v1/images/{id}</c>: thumbnails, favourites and
/// deletion. Same rules as the image itself: signed in, the owner's or (thumbnail, delete) an
/// administrator's, anyone else's id answers 404 like a missing one, and a commercial account is
/// refused a non-commercial model's output (403 with the reason). Changes need X-FluxWeb-Request.
/// </summary>
internal static class GalleryEndpoints
{
    public static IEndpointRouteBuilder MapGalleryEndpoints(this IEndpointRouteBuilder endpoints)
    {
        // Favourites and deletion answer nothing of the image, but act on one: the licence applies as for reading it.
        var images = endpoints.MapGroup($"{JobUrls.ApiPrefix}/images").RequireAuthorization().WithTags("Images").ServesImageData(ImageDataKind.Derived);

        images.MapGet("{id:guid}/thumbnail", ThumbnailAsync)
            .ServesImageData(ImageDataKind.Bytes)
            .WithName("GetImageThumbnail")
            .Produces(StatusCodes.Status200OK, contentType: ThumbnailStore.ContentType)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);
        images.MapPost("{id:guid}/favourite", (HttpContext http, GalleryActions actions, Guid id, CancellationToken ct) => SetFavouriteAsync(http, actions, id, true, ct))
            .RequireApiRequestHeader()
            .WithName("AddFavourite")
            .Produces<FavouriteResponse>();
        images.MapDelete("{id:guid}/favourite", (HttpContext http, GalleryActions actions, Guid id, CancellationToken ct) => SetFavouriteAsync(http, actions, id, false, ct))
            .RequireApiRequestHeader()
            .WithName("RemoveFavourite")
            .Produces<FavouriteResponse>();
        images.MapDelete("{id:guid}", DeleteAsync)
            .RequireApiRequestHeader()
            .WithName("DeleteImage")
            .Produces(StatusCodes.Status204NoContent)
            .ProducesProblem(StatusCodes.Status409Conflict);
        return endpoints;
    }

    private static IResult NotFound() => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found");

    private static IResult LicenceRefused(string? reason) =>
        Results.Problem(detail: reason, statusCode: StatusCodes.Status403Forbidden, title: "Not available to this account's licence");

    private static async Task<IResult> ThumbnailAsync(HttpContext http, ImageAccess images, ThumbnailStore thumbnails, Guid id, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        var read = actor is null ? ImageAccessResult.NotFound : await images.OpenAsync(actor, id, new ImageRead(LicencedAction.View, "api"), cancellationToken);
        if (read.Outcome == ImageAccessOutcome.LicenceRefused)
        {
            return LicenceRefused(read.Reason);
        }

        if (!read.Allowed)
        {
            return NotFound();
        }

        var file = read.File;
        var thumbnail = await thumbnails.GetAsync(file, cancellationToken);
        // As for the image: private to the user, and revalidated (a cheap 304) so access is checked every time.
        http.Response.Headers.CacheControl = "private, no-cache";
        http.Response.Headers.XContentTypeOptions = "nosniff";
        var stream = new FileStream(thumbnail.FullPath, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 16 * 1024, useAsync: true);
        return Results.Stream(
            stream,
            thumbnail.ContentType,
            lastModified: new DateTimeOffset(file.Image.CreatedUtc, TimeSpan.Zero),
            entityTag: new EntityTagHeaderValue(thumbnail.ETag));
    }

    private static async Task<IResult> SetFavouriteAsync(HttpContext http, GalleryActions actions, Guid id, bool favourite, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        var result = actor is null ? GalleryActionResult.NotFound : await actions.SetFavouriteAsync(actor, id, favourite, cancellationToken);
        return result.Outcome switch
        {
            GalleryActionOutcome.Done => Results.Ok(new FavouriteResponse(id, favourite)),
            GalleryActionOutcome.LicenceRefused => LicenceRefused(result.Reason),
            _ => NotFound(),
        };
    }

    private static async Task<IResult> DeleteAsync(HttpContext http, GalleryActions actions, Guid id, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        var result = actor is null ? GalleryActionResult.NotFound : await actions.DeleteAsync(actor, id, "api", cancellationToken);
        return result.Outcome switch
        {
            GalleryActionOutcome.Done => Results.NoContent(),
            GalleryActionOutcome.LicenceRefused => LicenceRefused(result.Reason),
            GalleryActionOutcome.InUse => Results.Problem(detail: result.Reason, statusCode: StatusCodes.Status409Conflict, title: "Image in use"),
            _ => NotFound(),
        };
    }
}
