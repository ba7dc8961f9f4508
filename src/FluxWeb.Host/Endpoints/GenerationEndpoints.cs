using System.ComponentModel;
using System.Globalization;
using System.Text.Json.Serialization;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Generation;
using FluxWeb.Host.Hosting;

namespace FluxWeb.Host.Endpoints;

/// <summary>A generation request from a script: the Studio's form as JSON. Input images are ids from <c>POST /api/v1/uploads/images</c> (or earlier outputs).</summary>
public sealed record GenerationApiRequest
{
    [Description("Model package id, as GET /api/v1/models lists it.")]
    public required string Model { get; init; }

    public required string Prompt { get; init; }

    [Description("What the picture should stay away from (base models, which take guidance, only; a distilled model refuses one). Not put to the prompt block list: it steers away from what it names.")]
    public string? NegativePrompt { get; init; }

    [Description("Output width: a multiple of 16 (another value is refused with the nearest valid ones). Default: the first reference's size, else 1024.")]
    public int? Width { get; init; }

    public int? Height { get; init; }

    [Description("64-bit seed, as a string or a number (JavaScript numbers lose precision above 2^53). Random when omitted.")]
    [JsonNumberHandling(JsonNumberHandling.AllowReadingFromString)]
    public ulong? Seed { get; init; }

    [Description("Sampling steps (distilled models take exactly 4).")]
    public int? Steps { get; init; }

    [Description("Classifier-free guidance (base models only).")]
    public float? Guidance { get; init; }

    [Description("Images to generate; each is its own job with seeds seed … seed+count−1.")]
    public int Count { get; init; } = 1;

    public IReadOnlyList<Guid> ReferenceImageIds { get; init; } = [];

    [Description("Masked edit: the image to repaint (needs maskImageId).")]
    public Guid? SourceImageId { get; init; }

    [Description("Masked edit: white repaints, black keeps; a mask from POST /api/v1/uploads/masks (other images are refused as masks).")]
    public Guid? MaskImageId { get; init; }

    [Description("Masked edit strength in (0, 1].")]
    public float? Strength { get; init; }

    [Description("Masked edit: blend the result over the source with a feathered mask.")]
    public bool Feather { get; init; }

    [Description("Put each finished image on this board: one you own or contribute to (checked now, and again when each image is done). Another board is refused with the same words as an unknown one.")]
    public Guid? AutoAddBoardId { get; init; }

    /// <summary>The API's names for the settings (<c>model</c>, an optional <c>strength</c>) mapped to the one record every door fills.</summary>
    public GenerationSettings ToSettings() => new()
    {
        ModelId = Model,
        Prompt = Prompt ?? "",
        NegativePrompt = NegativePrompt ?? "",
        Width = Width,
        Height = Height,
        Seed = Seed,
        Steps = Steps,
        Guidance = Guidance,
        ReferenceImageIds = ReferenceImageIds ?? [],
        SourceImageId = SourceImageId,
        MaskImageId = MaskImageId,
        Strength = Strength ?? 1f,
        Feather = Feather,
    };
}

/// <summary>What a queued request answers: one job per image, to follow on GET /api/v1/jobs/{id} or the hub.</summary>
public sealed record GenerationApiResponse(
    IReadOnlyList<Guid> JobIds,
    [property: JsonNumberHandling(JsonNumberHandling.WriteAsString)] ulong Seed,
    IReadOnlyList<string> JobUrls);

/// <summary><c>POST /api/v1/generations</c>: the same door as the Studio and the CLI (<see cref="GenerationService"/>), so the same quotas, fairness, licence policy and audit.</summary>
internal static class GenerationEndpoints
{
    public static IEndpointRouteBuilder MapGenerationEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost($"{JobUrls.ApiPrefix}/generations", SubmitAsync)
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy)
            .RequireApiRequestHeader()
            // Takes images as inputs (references, source, mask): each licence-checked as the job's input.
            .ServesImageData(ImageDataKind.Derived)
            .WithTags("Generations")
            .WithName("SubmitGeneration")
            .WithSummary("Queue one or more images")
            .WithDescription("Checks the request (sizes, steps, input images), the model's access rules, the licence and the quotas, then queues one job per image. Answers 202 with the job ids.")
            .Produces<GenerationApiResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status429TooManyRequests);
        return endpoints;
    }

    private static async Task<IResult> SubmitAsync(HttpContext http, GenerationService generation, GenerationApiRequest body, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        if (actor is null)
        {
            return Results.Unauthorized();
        }

        // The board is checked by the one door (GenerationService), as for the Studio's picker.
        var request = new JobRequest { Settings = body.ToSettings(), Count = body.Count, Channel = "api", AutoAddBoardId = body.AutoAddBoardId };
        return Answer(http, await generation.SubmitAsync(actor.UserId, request, cancellationToken));
    }

    /// <summary>202 with the jobs, or the refusal as a problem: 429 (with Retry-After), 403 (licence or access), 400; the loop's routes answer alike.</summary>
    internal static IResult Answer(HttpContext http, SubmitResult result)
    {
        if (result.Accepted)
        {
            var urls = result.JobIds.Select(id => $"{JobUrls.ApiPrefix}/jobs/{id}").ToList();
            return Results.Json(new GenerationApiResponse(result.JobIds, result.Seed, urls), statusCode: StatusCodes.Status202Accepted);
        }

        if (result.Refusal is { } quota)
        {
            if (quota.ResetsAtUtc is { } reset)
            {
                var seconds = Math.Max(1, (long)Math.Ceiling((reset - DateTimeOffset.UtcNow).TotalSeconds));
                http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            }

            return Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Quota reached", detail: result.Error,
                extensions: new Dictionary<string, object?> { ["limit"] = quota.Limit.ToString(), ["resetsAtUtc"] = quota.ResetsAtUtc });
        }

        if (result.LicenceRefused || result.AccessRefused)
        {
            return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: result.LicenceRefused ? "Not available to this account's licence" : "Model not available to this account", detail: result.Error);
        }

        return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid request", detail: result.Error);
    }
}
