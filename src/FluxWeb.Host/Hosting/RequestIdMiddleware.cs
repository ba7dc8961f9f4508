namespace FluxWeb.Host.Hosting;

internal static class RequestIdMiddleware
{
    public const string HeaderName = "X-Request-Id";

    /// <summary>Echo the request id that every log line of the request carries, so a user's report can be matched to the logs.</summary>
    public static IApplicationBuilder UseRequestIdHeader(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            context.Response.OnStarting(() =>
            {
                context.Response.Headers[HeaderName] = context.TraceIdentifier;
                return Task.CompletedTask;
            });
            return next(context);
        });
}
