using FluxWeb.Application.Jobs;
using FluxWeb.Application.Models;
using FluxWeb.Host.Hosting;

namespace FluxWeb.Host.Endpoints;

/// <summary><c>GET /api/v1/models</c>: the installed models as the caller sees them (the Studio picker's list): usable or not, and why not.</summary>
internal static class ModelEndpoints
{
    public static IEndpointRouteBuilder MapModelEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet($"{JobUrls.ApiPrefix}/models", ListAsync)
            .RequireAuthorization(ApiAuthentication.ApiPolicy)
            .ServesImageData(ImageDataKind.None)
            .WithTags("Models")
            .WithName("ListModels")
            .WithSummary("Models you may use")
            .WithDescription("Every installed model, allowed ones first; a model your account may not use says why (licence, disabled, role).")
            .Produces<IReadOnlyList<ModelChoice>>();
        return endpoints;
    }

    private static async Task<IResult> ListAsync(HttpContext http, ModelAccessService access, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        return actor is null ? Results.Unauthorized() : Results.Ok(await access.ChoicesAsync(actor.UserId, cancellationToken));
    }
}
