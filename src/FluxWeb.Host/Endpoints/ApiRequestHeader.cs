namespace FluxWeb.Host.Endpoints;

/// <summary>
/// Cross-site request protection for API calls that change something. A browser cannot add a
/// custom header to a cross-site request without a CORS preflight (and FluxWeb allows no other
/// origin), so requiring one stops another site from spending a signed-in user's cookie. Simpler
/// for scripts than an antiforgery token; API keys (issue 7) will not need it.
/// </summary>
internal static class ApiRequestHeader
{
    public const string Name = "X-FluxWeb-Request";

    public static RouteHandlerBuilder RequireApiRequestHeader(this RouteHandlerBuilder endpoint) =>
        endpoint.AddEndpointFilter(async (context, next) =>
        {
            if (string.IsNullOrWhiteSpace(context.HttpContext.Request.Headers[Name]))
            {
                return Results.Problem(
                    statusCode: StatusCodes.Status400BadRequest,
                    title: "Missing request header",
                    detail: $"Requests that change something must carry the header {Name} (any value).");
            }

            return await next(context);
        });
}
