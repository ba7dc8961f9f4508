namespace FluxWeb.Host.Endpoints;

/// <summary>
/// Cross-site request protection for API calls that change something. A browser cannot add a
/// custom header to a cross-site request without a CORS preflight (and FluxWeb allows no other
/// origin), so requiring one stops another site from spending a signed-in user's cookie. Simpler
/// for scripts than an antiforgery token. Requests authenticated by an API key do not need it: a
/// key travels in a header the browser never adds by itself, so it cannot be spent cross-site.
/// </summary>
internal static class ApiRequestHeader
{
    public const string Name = "X-FluxWeb-Request";

    public static RouteHandlerBuilder RequireApiRequestHeader(this RouteHandlerBuilder endpoint) =>
        endpoint.AddEndpointFilter(async (context, next) =>
        {
            if (!Hosting.ApiAuthentication.IsApiKey(context.HttpContext.User) && string.IsNullOrWhiteSpace(context.HttpContext.Request.Headers[Name]))
            {
                return Results.Problem(
                    statusCode: StatusCodes.Status400BadRequest,
                    title: "Missing request header",
                    detail: $"Requests that change something must carry the header {Name} (any value).");
            }

            return await next(context);
        });
}
