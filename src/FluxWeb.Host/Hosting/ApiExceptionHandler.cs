using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace FluxWeb.Host.Hosting;

/// <summary>
/// An unhandled error under <c>/api</c> answers as problem JSON (RFC 9457), the way CleanArchitecture's
/// ProblemDetailsExceptionHandler does, instead of the people's HTML error page: a script reads a
/// status, a title and the request id to report. What went wrong stays in the log, under that id;
/// nothing of the exception reaches the client. Pages keep the <c>/Error</c> page.
/// </summary>
internal sealed partial class ApiExceptionHandler(IProblemDetailsService problems, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        // By now the middleware has pointed the request at the error page; the feature keeps where it was going.
        var path = httpContext.Features.Get<IExceptionHandlerPathFeature>()?.Path ?? httpContext.Request.Path.Value ?? "";
        if (!new PathString(path).StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        // The middleware does not log an exception a handler took care of: this is its only record.
        LogUnhandled(logger, exception, httpContext.Request.Method, path, httpContext.TraceIdentifier);
        httpContext.Response.StatusCode = StatusCodes.Status500InternalServerError;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status500InternalServerError,
                Type = "https://tools.ietf.org/html/rfc9110#section-15.6.1",
                Title = "Unexpected error",
                Detail = "The server could not answer this request because of an error of its own. An administrator can find the details in the log under the request id.",
                Extensions = { ["requestId"] = httpContext.TraceIdentifier },
            },
        });
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled error answering {Method} {Path} (request {RequestId})")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path, string requestId);
}
