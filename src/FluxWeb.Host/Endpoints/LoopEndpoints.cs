using System.ComponentModel;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Jobs.Loop;
using FluxWeb.Domain.Generation;
using FluxWeb.Host.Hosting;

namespace FluxWeb.Host.Endpoints;

/// <summary>How much a vary repaints: subtle keeps composition and colours, strong keeps the layout's broad strokes.</summary>
public enum VaryStrength
{
    Subtle,
    Strong,
}

public sealed record VaryApiRequest
{
    [Description("\"subtle\" (img2img at 0.35: small changes) or \"strong\" (0.7: same idea, new details). Default: subtle.")]
    public VaryStrength Strength { get; init; } = VaryStrength.Subtle;
}

public sealed record MoreApiRequest
{
    [Description("Images to make with the image's settings, each with the next seed not used yet with them. Default: 1.")]
    public int Count { get; init; } = 1;
}

/// <summary>An extension of one of the caller's images (outpainting): the margins in pixels and what the new area shows.</summary>
public sealed record ExtendApiRequest
{
    [Description("Pixels added on the left: a multiple of 16, 0 to leave the side as it is.")]
    public int Left { get; init; }

    public int Top { get; init; }

    public int Right { get; init; }

    public int Bottom { get; init; }

    [Description("What the new area shows. Default: the image's own prompt.")]
    public string? Prompt { get; init; }

    public CanvasMargins ToMargins() => new(Left, Top, Right, Bottom);
}

/// <summary>
/// The loop for scripts: vary, more like this, upscale ×2 and extend one of the caller's images, as the Studio's
/// buttons do, through <see cref="ResultLoop"/> and so the one submission door (ADR 0018). Each answers like
/// <c>POST /api/v1/generations</c>; an image the caller may not see answers 404.
/// </summary>
internal static class LoopEndpoints
{
    public static IEndpointRouteBuilder MapLoopEndpoints(this IEndpointRouteBuilder endpoints)
    {
        Map(endpoints, "vary", VaryAsync, "VaryImage", "Vary one of your images",
            "Queues an img2img pass over the image with its own settings and a new seed: subtle (strength 0.35) or strong (0.7).");
        Map(endpoints, "more", MoreAsync, "MoreLikeImage", "More images like one of yours",
            "Queues count images with exactly the image's settings and the seeds after its own that were not used with them yet.");
        Map(endpoints, "upscale", UpscaleAsync, "UpscaleImage", "Upscale one of your images ×2 through the model",
            "Queues the image's own settings at twice its size with the image as the only reference; twice a size beyond the server's limits is a 400 that names them.");
        Map(endpoints, "extend", ExtendAsync, "ExtendImage", "Extend one of your images (outpainting)",
            "Queues a masked edit of a larger canvas: the image at its place, the margins painted from its settings with a new seed and the prompt given (else its own). Margins are multiples of 16 and the extended size must be within the server's limits; 507 when the canvas cannot be stored.");
        return endpoints;
    }

    private static void Map(IEndpointRouteBuilder endpoints, string action, Delegate handler, string name, string summary, string description) =>
        endpoints.MapPost($"{JobUrls.ApiPrefix}/images/{{id:guid}}/{action}", handler)
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy)
            .RequireApiRequestHeader()
            // Takes the image as the job's input: licence-checked as every input is.
            .ServesImageData(ImageDataKind.Derived)
            .WithTags("Loop")
            .WithName(name)
            .WithSummary(summary)
            .WithDescription(description)
            .Produces<GenerationApiResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);

    private static Task<IResult> VaryAsync(HttpContext http, ResultLoop loop, Guid id, VaryApiRequest? body, CancellationToken cancellationToken) =>
        AnswerAsync(http, actor => loop.SubmitAsync(actor, id, body?.Strength == VaryStrength.Strong ? LoopAction.VaryStrong : LoopAction.VarySubtle, 1, "api", cancellationToken));

    private static Task<IResult> MoreAsync(HttpContext http, ResultLoop loop, Guid id, MoreApiRequest? body, CancellationToken cancellationToken) =>
        AnswerAsync(http, actor => loop.SubmitAsync(actor, id, LoopAction.MoreLikeThis, body?.Count ?? 1, "api", cancellationToken));

    private static Task<IResult> UpscaleAsync(HttpContext http, ResultLoop loop, Guid id, CancellationToken cancellationToken) =>
        AnswerAsync(http, actor => loop.SubmitAsync(actor, id, LoopAction.UpscaleTwice, 1, "api", cancellationToken));

    // No body is no margins: refused with what to send, once the image is known to be the caller's.
    private static Task<IResult> ExtendAsync(HttpContext http, ResultLoop loop, Guid id, ExtendApiRequest? body, CancellationToken cancellationToken) =>
        AnswerAsync(http, actor => loop.ExtendAsync(actor, id, body?.ToMargins() ?? new CanvasMargins(0, 0, 0, 0), body?.Prompt, "api", cancellationToken));

    private static async Task<IResult> AnswerAsync(HttpContext http, Func<JobActor, Task<SubmitResult>> submit)
    {
        var actor = JobActor.From(http.User);
        if (actor is null)
        {
            return Results.Unauthorized();
        }

        try
        {
            var result = await submit(actor);
            return result.NotFound ? Results.NotFound() : GenerationEndpoints.Answer(http, result);
        }
        catch (ImageStorageException notStored)
        {
            // A vary's mask or an extension's canvas could not be written (a full disk): as an upload would answer.
            return ImageUploadEndpoints.NotStored(notStored);
        }
    }
}
