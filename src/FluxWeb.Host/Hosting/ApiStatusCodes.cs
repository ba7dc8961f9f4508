using Microsoft.AspNetCore.Diagnostics;

namespace FluxWeb.Host.Hosting;

internal static class ApiStatusCodes
{
    /// <summary>
    /// Status-code pages are for people. API calls keep their bare status and problem body: a
    /// re-executed HTML page would also turn an anonymous POST's 401 into that page's antiforgery 400.
    /// Must come after <c>UseStatusCodePagesWithReExecute</c>, which installs the feature it turns off.
    /// </summary>
    public static IApplicationBuilder UseNoStatusCodePagesForApi(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase)
                && context.Features.Get<IStatusCodePagesFeature>() is { } pages)
            {
                pages.Enabled = false;
            }

            return next(context);
        });
}
