using System.Security.Claims;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Host.Hosting;
using FluxWeb.Provenance.Decoding;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Microsoft.OpenApi;

namespace FluxWeb.Host.Endpoints;

/// <summary>What an upload answers (Studio or script); <c>Id</c> goes into a generation's referenceImageIds or sourceImageId and is served at <c>/api/v1/images/{id}</c>.</summary>
public sealed record ImageUploadResponse(Guid Id, int Width, int Height);

/// <summary>
/// <c>POST /api/v1/uploads/images</c>: a reference or source picture, the file itself as the body
/// (the browser's <c>fetch</c>, never the Blazor circuit). Only <see cref="ImageStore.SaveUploadAsync"/>
/// decodes it: the hardened decoder, then the input safety check.
/// </summary>
internal static class ImageUploadEndpoints
{
    public const string CollectionPath = "/api/v1/uploads/images";

    /// <summary>The types a browser gives PNG, JPEG and WebP files; the bytes decide the format in the end.</summary>
    public static readonly IReadOnlyList<string> AcceptedContentTypes = ["image/png", "image/jpeg", "image/webp"];

    public static IEndpointRouteBuilder MapImageUploads(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost(CollectionPath, UploadAsync)
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy)
            .RequireApiRequestHeader()
            .ServesImageData(ImageDataKind.Derived)
            .WithTags("Images")
            .WithName("UploadImage")
            .WithSummary("Upload a reference or source image")
            .WithDescription("The raw picture as the request body with its Content-Type (PNG, JPEG or WebP, within the server's size caps). Answers 201 with its id; 403 when its invisible watermark shows this server made it with a model your account's licence does not allow.")
            // Documented, not declared with Accepts(): routing would then answer a wrong Content-Type
            // with an empty 415 before this handler could say what to send instead.
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                var picture = new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } };
                operation.RequestBody = new OpenApiRequestBody
                {
                    Required = true,
                    Description = "The picture's bytes.",
                    Content = AcceptedContentTypes.ToDictionary(type => type, _ => picture),
                };
                return Task.CompletedTask;
            })
            .Produces<ImageUploadResponse>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status507InsufficientStorage);
        return endpoints;
    }

    /// <param name="name">The file's name, only for messages ("cat.gif is a GIF file…"); the content decides the format.</param>
    private static async Task<IResult> UploadAsync(
        HttpContext context,
        ImageStore images,
        IOptions<ImageDecodingOptions> decoding,
        ILogger<ImageStore> logger,
        string? name,
        CancellationToken cancellationToken)
    {
        var request = context.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType)
            || !AcceptedContentTypes.Contains(contentType.MediaType.Value ?? "", StringComparer.OrdinalIgnoreCase))
        {
            return Refused(logger, StatusCodes.Status415UnsupportedMediaType,
                $"Send a PNG, JPEG or WebP picture as the request body with its Content-Type ({string.Join(", ", AcceptedContentTypes)}); this request says '{request.ContentType ?? "nothing"}'.");
        }

        var maxBytes = decoding.Value.MaxBytes;
        if (request.ContentLength > maxBytes)
        {
            return Refused(logger, StatusCodes.Status413PayloadTooLarge, TooLargeMessage(maxBytes));
        }

        // The decoder reads at most one byte more than the limit; the server need not accept more either.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
        {
            bodyLimit.MaxRequestBodySize = maxBytes + 1;
        }

        var userId = context.User.FindFirstValue(ClaimTypes.NameIdentifier)!;
        try
        {
            var stored = await images.SaveUploadAsync(userId, request.Body, SafeFileName(name), channel: "api", cancellationToken: cancellationToken);
            logger.LogInformation("Stored upload {ImageId} ({Width}×{Height}) for user {UserId}", stored.Id, stored.Width, stored.Height, userId);
            return Results.Created(JobUrls.Image(stored.Id), new ImageUploadResponse(stored.Id, stored.Width, stored.Height));
        }
        catch (InvalidImageException refusal)
        {
            return Refused(logger, refusal.StatusCode, refusal.Message);
        }
        catch (BadHttpRequestException tooLarge) when (tooLarge.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Refused(logger, StatusCodes.Status413PayloadTooLarge, TooLargeMessage(maxBytes));
        }
        catch (ImageStorageException notStored)
        {
            return NotStored(notStored);
        }
    }

    /// <summary>The server could not keep a valid picture: 507 for a full disk (nothing the client can fix by resending now), else 500; the store logged the cause.</summary>
    public static IResult NotStored(ImageStorageException notStored) =>
        Results.Problem(
            detail: notStored.Message,
            statusCode: notStored.DiskFull ? StatusCodes.Status507InsufficientStorage : StatusCodes.Status500InternalServerError,
            title: "Picture not stored");

    private static string TooLargeMessage(long maxBytes) =>
        $"The file is larger than the {maxBytes / (1024.0 * 1024.0):0.#} MiB this server accepts for a picture. Save it smaller (or as JPEG or WebP) and upload it again.";

    /// <summary>A name fit for a message: no folders, no control characters, not endless.</summary>
    private static string? SafeFileName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return null;
        }

        var file = Path.GetFileName(name.Replace('\\', '/'));
        var clean = new string([.. file.Where(c => !char.IsControl(c))]);
        return clean.Length == 0 ? null : clean.Length <= 120 ? clean : clean[..120];
    }

    private static IResult Refused(ILogger logger, int statusCode, string message)
    {
        logger.LogInformation("Refused an image upload ({StatusCode}): {Message}", statusCode, message);
        var title = statusCode switch
        {
            StatusCodes.Status403Forbidden => "Not available to this account's licence",
            StatusCodes.Status413PayloadTooLarge => "Picture too large",
            StatusCodes.Status415UnsupportedMediaType => "Not a PNG, JPEG or WebP picture",
            StatusCodes.Status422UnprocessableEntity => "Picture refused",
            _ => "Unreadable picture",
        };
        return Results.Problem(detail: message, statusCode: statusCode, title: title);
    }
}
