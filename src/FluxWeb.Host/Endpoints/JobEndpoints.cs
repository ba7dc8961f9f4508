using FluxWeb.Application.Audit;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Audit;
using FluxWeb.Host.Hosting;
using Microsoft.Net.Http.Headers;

namespace FluxWeb.Host.Endpoints;

/// <summary>
/// The job API. Every route needs a signed-in user; a job that is not the caller's (unless the
/// caller is an administrator) answers 404, exactly like one that does not exist.
/// </summary>
internal static class JobEndpoints
{
    public static IEndpointRouteBuilder MapJobEndpoints(this IEndpointRouteBuilder endpoints)
    {
        // A signed-in user or an API key (ApiAuthentication); changes need the key's generate scope.
        var jobs = endpoints.MapGroup($"{JobUrls.ApiPrefix}/jobs").RequireAuthorization(ApiAuthentication.ApiPolicy).WithTags("Jobs")
            .ServesImageData(ImageDataKind.Derived);

        jobs.MapGet("", ListAsync).WithName("ListJobs").WithSummary("Your waiting and running jobs, then your latest finished ones")
            .WithDescription("Jobs of models whose output your account's licence does not let it receive are left out.").Produces<IReadOnlyList<JobView>>();
        jobs.MapGet("{id:guid}", GetAsync).WithName("GetJob").WithSummary("One job: state, queue position, step, output URL")
            .Produces<JobView>().ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        jobs.MapPost("{id:guid}/cancel", CancelAsync).WithName("CancelJob").WithSummary("Cancel a waiting job or stop a running one")
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy).RequireApiRequestHeader()
            .Produces<JobView>().Produces<JobView>(StatusCodes.Status202Accepted).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict);
        jobs.MapGet("{id:guid}/preview", PreviewAsync).WithName("GetJobPreview").WithSummary("The running job's latest preview (PNG)")
            .ServesImageData(ImageDataKind.Bytes)
            .Produces(StatusCodes.Status200OK, contentType: "image/png").ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);

        endpoints.MapGet($"{JobUrls.ApiPrefix}/images/{{id:guid}}", GetImageAsync)
            .RequireAuthorization(ApiAuthentication.ApiPolicy)
            .ServesImageData(ImageDataKind.Bytes)
            .WithTags("Images")
            .WithName("GetImage")
            .WithSummary("A stored image (add ?download=true for an attachment)")
            .Produces(StatusCodes.Status200OK, contentType: "image/png")
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);
        return endpoints;
    }

    /// <summary>The licence's refusal, with its reason, for the owner who may no longer receive it.</summary>
    internal static IResult LicenceRefused(string? reason) =>
        Results.Problem(detail: reason, statusCode: StatusCodes.Status403Forbidden, title: "Not available to this account's licence");

    /// <summary>A conditional request for the file the client already has: answered 304, nothing leaves.</summary>
    private static bool IsRevalidation(HttpContext http, string sha256) =>
        http.Request.Headers.IfNoneMatch.Any(tag => tag is not null && tag.Contains($"\"{sha256}\"", StringComparison.Ordinal));

    /// <summary>The same answer for "no such id" and "not yours"; a body, so the status-code page does not replace it with HTML.</summary>
    private static IResult NotFound() => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found");

    /// <summary>The caller's own jobs: waiting and running ones, then up to <paramref name="finished"/> finished ones.</summary>
    private static async Task<IResult> ListAsync(HttpContext http, JobService jobs, int? finished, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        return actor is null ? Results.Unauthorized() : Results.Ok(await jobs.ListMineAsync(actor, finished ?? 20, cancellationToken));
    }

    private static async Task<IResult> GetAsync(HttpContext http, JobService jobs, Guid id, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        var job = actor is null ? new JobRead<JobView>(null) : await jobs.ReadAsync(actor, id, cancellationToken);
        return job switch
        {
            { Value: { } view } => Results.Ok(view),
            { LicenceRefusal: { } reason } => LicenceRefused(reason),
            _ => NotFound(),
        };
    }

    private static async Task<IResult> CancelAsync(HttpContext http, JobService jobs, Guid id, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        if (actor is null)
        {
            return NotFound();
        }

        var outcome = await jobs.CancelAsync(actor, id, cancellationToken);
        var job = await jobs.GetAsync(actor, id, cancellationToken);
        return outcome switch
        {
            CancelOutcome.Cancelled => Results.Ok(job),
            CancelOutcome.Stopping => Results.Accepted(value: job),
            CancelOutcome.AlreadyFinished => Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Already finished", detail: $"The job has already {job?.State.ToString().ToLowerInvariant() ?? "finished"}."),
            CancelOutcome.LicenceRefused => LicenceRefused((await jobs.ReadAsync(actor, id, cancellationToken)).LicenceRefusal),
            _ => NotFound(),
        };
    }

    /// <summary>The running job's latest preview, licence-checked now; never cached, as it changes every step and belongs to one user.</summary>
    private static async Task<IResult> PreviewAsync(HttpContext http, JobService jobs, Guid id, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        var preview = actor is null ? new JobRead<byte[]>(null) : await jobs.GetPreviewAsync(actor, id, cancellationToken);
        if (preview.LicenceRefusal is { } reason)
        {
            return LicenceRefused(reason);
        }

        if (preview.Value is not { } png)
        {
            return NotFound();
        }

        http.Response.Headers.CacheControl = "no-store";
        return Results.Bytes(png, "image/png");
    }

    private static async Task<IResult> GetImageAsync(HttpContext http, ImageAccess images, AuditLog audit, Guid id, bool? download, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        if (actor is null)
        {
            return NotFound();
        }

        // A script holding a key takes the file out of FluxWeb: that is an export, for the licence and the audit log.
        var viaKey = ApiAuthentication.IsApiKey(http.User);
        var action = viaKey ? LicencedAction.Export : download == true ? LicencedAction.Download : LicencedAction.View;
        var read = await images.OpenAsync(actor, id, new ImageRead(action, "api"), cancellationToken);
        if (read.Outcome == ImageAccessOutcome.LicenceRefused)
        {
            return LicenceRefused(read.Reason);
        }

        if (!read.Allowed)
        {
            return NotFound();
        }

        var file = read.File;
        if (viaKey && !IsRevalidation(http, file.Image.Sha256))
        {
            await audit.RecordAsync(new AuditEntry(AuditActions.Export, actor.UserId) { ImageId = id, ModelId = file.Image.ModelId, TargetUserId = file.Image.OwnerId, Channel = "api" }, cancellationToken);
        }
        else if (download == true)
        {
            await audit.RecordAsync(new AuditEntry(AuditActions.Download, actor.UserId) { ImageId = id, ModelId = file.Image.ModelId, TargetUserId = file.Image.OwnerId, Channel = "api" }, cancellationToken);
        }

        if (download == true)
        {
            http.Response.Headers.ContentDisposition = $"attachment; filename=\"fluxweb-{file.Image.Id:N}.png\"";
        }

        // Private: the image is one user's. no-cache: the browser revalidates (a cheap 304 by ETag), so access is checked every time.
        http.Response.Headers.CacheControl = "private, no-cache";
        http.Response.Headers.XContentTypeOptions = "nosniff";
        var stream = new FileStream(file.FullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, useAsync: true);
        return Results.Stream(
            stream,
            file.Image.ContentType,
            lastModified: new DateTimeOffset(file.Image.CreatedUtc, TimeSpan.Zero),
            entityTag: new EntityTagHeaderValue($"\"{file.Image.Sha256}\""));
    }
}
