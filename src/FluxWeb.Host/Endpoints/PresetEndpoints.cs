using FluxWeb.Application.Jobs;
using FluxWeb.Application.Presets;
using FluxWeb.Domain.Generation;
using FluxWeb.Host.Hosting;

namespace FluxWeb.Host.Endpoints;

/// <summary>A preset as the API writes it: the name, the template and the parameters to keep (null or absent: not kept).</summary>
public sealed record PresetRequest(string? Name, string? PromptTemplate, string? Model, int? Width, int? Height, int? Steps, float? Guidance, string? NegativePrompt = null)
{
    public PresetDraft ToDraft() => new() { Name = Name, PromptTemplate = PromptTemplate, NegativePrompt = NegativePrompt, ModelId = Model, Width = Width, Height = Height, Steps = Steps, Guidance = Guidance };
}

public sealed record PresetNameRequest(string? Name);

/// <summary>The settings a script has now (the fields of <c>POST /api/v1/generations</c> a preset can change); the preset is applied to them.</summary>
public sealed record PresetApplyRequest(string? Prompt, string? Model, int? Width, int? Height, int? Steps, float? Guidance, string? NegativePrompt = null);

/// <summary>What applying made: the fields to send to <c>POST /api/v1/generations</c>, and each part of the preset left out, with why.</summary>
public sealed record PresetApplyResponse(string Prompt, string? Model, int? Width, int? Height, int? Steps, float? Guidance, bool ModelApplied, IReadOnlyList<string> LeftOut, string NegativePrompt = "");

/// <summary>
/// Presets under <c>/api/v1/presets</c>, for the cookie and API keys alike: reading and applying take any key,
/// saving, renaming and deleting need the generate scope (and, with the cookie, the X-FluxWeb-Request header). A
/// script sees its own presets and the published ones; another person's answers 404 like an unknown id, a
/// published one 403 to changes. Publishing is the Studio's, for administrators: an API key carries no role.
/// </summary>
internal static class PresetEndpoints
{
    public static IEndpointRouteBuilder MapPresetEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var presets = endpoints.MapGroup($"{JobUrls.ApiPrefix}/presets").RequireAuthorization(ApiAuthentication.ApiPolicy)
            .ServesImageData(ImageDataKind.None).WithTags("Presets");
        presets.MapGet("", ListAsync).WithName("ListPresets").WithSummary("Your presets, then those administrators published")
            .WithDescription("modelProblem says why a preset's model would not be applied for your account now (not installed, disabled, or not allowed by its licence); the rest still applies.")
            .Produces<IReadOnlyList<PresetView>>();
        presets.MapPost("", CreateAsync).WithName("CreatePreset").WithSummary("Save a preset of your own")
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy).RequireApiRequestHeader()
            .Produces<PresetView>(StatusCodes.Status201Created).ProducesProblem(StatusCodes.Status400BadRequest);
        presets.MapGet("{id:guid}", GetAsync).WithName("GetPreset").WithSummary("One preset")
            .Produces<PresetView>().ProducesProblem(StatusCodes.Status404NotFound);
        presets.MapPut("{id:guid}", UpdateAsync).WithName("UpdatePreset").WithSummary("Replace what your preset holds")
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy).RequireApiRequestHeader()
            .Produces<PresetView>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        presets.MapPatch("{id:guid}", RenameAsync).WithName("RenamePreset").WithSummary("Rename your preset")
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy).RequireApiRequestHeader()
            .Produces<PresetView>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        presets.MapDelete("{id:guid}", DeleteAsync).WithName("DeletePreset").WithSummary("Delete your preset")
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy).RequireApiRequestHeader()
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        presets.MapPost("{id:guid}/apply", ApplyAsync).WithName("ApplyPreset").WithSummary("What a preset makes of your settings")
            .WithDescription("Changes nothing on the server: answers the prompt made from the template, the negative prompt and the model, size, steps and guidance, each checked for your account now; send them to POST /api/v1/generations.")
            .Produces<PresetApplyResponse>().ProducesProblem(StatusCodes.Status404NotFound);
        return endpoints;
    }

    private static IResult NotFound() => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found");

    private static IResult Answer<T>(PresetResult<T> result, Func<T, IResult> done) => result.Outcome switch
    {
        PresetOutcome.Done => done(result.Value!),
        PresetOutcome.Invalid => Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Not possible", detail: result.Error),
        PresetOutcome.ReadOnly => Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Read-only", detail: result.Error),
        _ => NotFound(),
    };

    private static async Task<IResult> ListAsync(HttpContext http, PresetService service, CancellationToken cancellationToken) =>
        JobActor.From(http.User) is { } actor ? Results.Ok(await service.ListAsync(actor, cancellationToken)) : Results.Unauthorized();

    private static async Task<IResult> GetAsync(HttpContext http, PresetService service, Guid id, CancellationToken cancellationToken) =>
        JobActor.From(http.User) is { } actor ? Answer(await service.GetAsync(actor, id, cancellationToken), Results.Ok) : NotFound();

    private static async Task<IResult> CreateAsync(HttpContext http, PresetService service, PresetRequest? request, CancellationToken cancellationToken) =>
        JobActor.From(http.User) is { } actor
            ? Answer(await service.CreateAsync(actor, (request ?? new PresetRequest(null, null, null, null, null, null, null)).ToDraft(), cancellationToken),
                preset => Results.Created($"{JobUrls.ApiPrefix}/presets/{preset.Id}", preset))
            : Results.Unauthorized();

    private static async Task<IResult> UpdateAsync(HttpContext http, PresetService service, Guid id, PresetRequest? request, CancellationToken cancellationToken) =>
        JobActor.From(http.User) is { } actor
            ? Answer(await service.UpdateAsync(actor, id, (request ?? new PresetRequest(null, null, null, null, null, null, null)).ToDraft(), "api", cancellationToken), Results.Ok)
            : NotFound();

    private static async Task<IResult> RenameAsync(HttpContext http, PresetService service, Guid id, PresetNameRequest? request, CancellationToken cancellationToken) =>
        JobActor.From(http.User) is { } actor ? Answer(await service.RenameAsync(actor, id, request?.Name, "api", cancellationToken), Results.Ok) : NotFound();

    private static async Task<IResult> DeleteAsync(HttpContext http, PresetService service, Guid id, CancellationToken cancellationToken) =>
        JobActor.From(http.User) is { } actor ? Answer(await service.DeleteAsync(actor, id, "api", cancellationToken), _ => Results.NoContent()) : NotFound();

    private static async Task<IResult> ApplyAsync(HttpContext http, PresetService service, Guid id, PresetApplyRequest? request, CancellationToken cancellationToken)
    {
        if (JobActor.From(http.User) is not { } actor)
        {
            return NotFound();
        }

        var current = new GenerationSettings
        {
            ModelId = request?.Model ?? "",
            Prompt = request?.Prompt ?? "",
            NegativePrompt = request?.NegativePrompt ?? "",
            Width = request?.Width,
            Height = request?.Height,
            Steps = request?.Steps,
            Guidance = request?.Guidance,
        };
        return Answer(await service.ApplyAsync(actor, id, current, cancellationToken), applied => Results.Ok(new PresetApplyResponse(
            applied.Settings.Prompt,
            applied.Settings.ModelId.Length == 0 ? null : applied.Settings.ModelId,
            applied.Settings.Width,
            applied.Settings.Height,
            applied.Settings.Steps,
            applied.Settings.Guidance,
            applied.ModelApplied,
            applied.LeftOut,
            applied.Settings.NegativePrompt)));
    }
}
