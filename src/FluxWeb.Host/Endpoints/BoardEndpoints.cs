using System.Text.Json.Serialization;
using FluxWeb.Application.Boards;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Boards;
using FluxWeb.Host.Hosting;

namespace FluxWeb.Host.Endpoints;

public sealed record BoardNameRequest(string? Name);

public sealed record BoardImagesRequest(IReadOnlyList<Guid>? ImageIds);

/// <summary>Whom to share with: a teammate's e-mail, or <c>team: true</c> for everyone on this server; <c>role</c> viewer (default) or contributor (boards only).</summary>
public sealed record ShareRequest(string? Email, bool? Team, [property: JsonConverter(typeof(JsonStringEnumConverter<ShareRole>))] ShareRole? Role);

/// <summary>A board and one page of its images, in the owner's order, as the caller may see them.</summary>
public sealed record BoardPage(BoardSummary Board, IReadOnlyList<GalleryItem> Items, string? NextCursor, int HiddenByLicence);

public sealed record ReuseResponse(Guid ImageId, string StudioUrl);

/// <summary>
/// Boards, shares and the team feed under <c>/api/v1</c>, for the cookie and API keys alike: reading needs any key,
/// changing needs the generate scope (and, with the cookie, the X-FluxWeb-Request header). Every image in an answer went
/// through the same filters as the pages (ownership or a share, then the licence); ids of boards, images and shares the
/// caller may not see answer 404 like unknown ones.
/// </summary>
internal static class BoardEndpoints
{
    public static IEndpointRouteBuilder MapBoardEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.MapGroup(JobUrls.ApiPrefix).RequireAuthorization(ApiAuthentication.ApiPolicy).ServesImageData(ImageDataKind.Derived);

        var boards = api.MapGroup("boards").WithTags("Boards");
        boards.MapGet("", ListAsync).WithName("ListBoards").WithSummary("Your boards, then boards shared with you").Produces<IReadOnlyList<BoardSummary>>();
        boards.MapPost("", CreateAsync).WithName("CreateBoard").WithSummary("Create a board")
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy).RequireApiRequestHeader()
            .Produces<BoardSummary>(StatusCodes.Status201Created).ProducesProblem(StatusCodes.Status400BadRequest);
        boards.MapGet("{id:guid}", GetAsync).WithName("GetBoard").WithSummary("A board and a page of its images, in its order")
            .WithDescription("Images your account's licence does not let it receive are left out and counted in hiddenByLicence.")
            .Produces<BoardPage>().ProducesProblem(StatusCodes.Status404NotFound);
        boards.MapPatch("{id:guid}", RenameAsync).WithName("RenameBoard").WithSummary("Rename your board")
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy).RequireApiRequestHeader()
            .Produces<BoardSummary>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        boards.MapDelete("{id:guid}", DeleteAsync).WithName("DeleteBoard").WithSummary("Delete your board (its images stay)")
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy).RequireApiRequestHeader()
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        boards.MapPost("{id:guid}/images", AddImagesAsync).WithName("AddBoardImages").WithSummary("Add images of yours to a board you own or contribute to")
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy).RequireApiRequestHeader()
            .Produces<BoardAddition>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        boards.MapDelete("{id:guid}/images/{imageId:guid}", RemoveImageAsync).WithName("RemoveBoardImage").WithSummary("Take an image off a board (the image stays)")
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy).RequireApiRequestHeader()
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        boards.MapPut("{id:guid}/order", ReorderAsync).WithName("ReorderBoard").WithSummary("Put the given images first, in that order")
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy).RequireApiRequestHeader()
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        boards.MapGet("{id:guid}/shares", (HttpContext http, BoardService service, Guid id, CancellationToken ct) => SharesAsync(http, service, ShareTarget.Board(id), ct))
            .WithName("ListBoardShares").WithSummary("Who your board is shared with").Produces<IReadOnlyList<ShareView>>().ProducesProblem(StatusCodes.Status404NotFound);
        boards.MapPost("{id:guid}/shares", (HttpContext http, BoardService service, Guid id, ShareRequest? request, CancellationToken ct) => ShareAsync(http, service, ShareTarget.Board(id), request, ct))
            .WithName("ShareBoard").WithSummary("Share your board with a teammate or the team")
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy).RequireApiRequestHeader()
            .Produces<ShareView>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);

        var images = api.MapGroup("images").WithTags("Images");
        images.MapGet("{id:guid}/shares", (HttpContext http, BoardService service, Guid id, CancellationToken ct) => SharesAsync(http, service, ShareTarget.Image(id), ct))
            .WithName("ListImageShares").WithSummary("Who your image is shared with").Produces<IReadOnlyList<ShareView>>().ProducesProblem(StatusCodes.Status404NotFound);
        images.MapPost("{id:guid}/shares", (HttpContext http, BoardService service, Guid id, ShareRequest? request, CancellationToken ct) => ShareAsync(http, service, ShareTarget.Image(id), request, ct))
            .WithName("ShareImage").WithSummary("Share your image with a teammate or the team (read-only)")
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy).RequireApiRequestHeader()
            .Produces<ShareView>().ProducesProblem(StatusCodes.Status400BadRequest).ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound);
        images.MapPost("{id:guid}/reuse", ReuseAsync).WithName("ReuseImage")
            .WithSummary("Copy an image shared with you into your own uploads, to use as a reference")
            .WithDescription("Answers the id of your copy (your own image, usable as referenceImageIds); the original stays its owner's. Your own image answers its own id.")
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy).RequireApiRequestHeader()
            .Produces<ReuseResponse>().ProducesProblem(StatusCodes.Status403Forbidden).ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status422UnprocessableEntity);

        api.MapDelete("shares/{id:guid}", UnshareAsync).WithTags("Boards").WithName("DeleteShare").WithSummary("Stop sharing (access ends at the next request)")
            .RequireAuthorization(ApiAuthentication.ApiWritePolicy).RequireApiRequestHeader()
            .Produces(StatusCodes.Status204NoContent).ProducesProblem(StatusCodes.Status404NotFound);
        api.MapGet("feed", FeedAsync).WithTags("Boards").WithName("TeamFeed")
            .WithSummary("What teammates shared with you or the team, newest first")
            .WithDescription("Same filters as the gallery (search, model, favouritesOnly is ignored, owner e-mail via ownerId); images your account's licence does not let it receive are left out and counted in hiddenByLicence.")
            .Produces<GalleryPage>();
        return endpoints;
    }

    private static IResult NotFound() => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found");

    private static IResult Answer<T>(BoardResult<T> result, Func<T, IResult> done) => result.Outcome switch
    {
        BoardOutcome.Done => done(result.Value!),
        BoardOutcome.Invalid => Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Not possible", detail: result.Error),
        BoardOutcome.ReadOnly => Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Read-only", detail: result.Error),
        BoardOutcome.LicenceRefused => JobEndpoints.LicenceRefused(result.Error),
        _ => NotFound(),
    };

    private static async Task<IResult> ListAsync(HttpContext http, BoardService service, CancellationToken cancellationToken) =>
        JobActor.From(http.User) is { } actor ? Results.Ok(await service.ListAsync(actor, cancellationToken)) : Results.Unauthorized();

    private static async Task<IResult> CreateAsync(HttpContext http, BoardService service, BoardNameRequest? request, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        return actor is null ? Results.Unauthorized()
            : Answer(await service.CreateAsync(actor, request?.Name, cancellationToken), board => Results.Created($"{JobUrls.ApiPrefix}/boards/{board.Id}", board));
    }

    private static async Task<IResult> GetAsync(HttpContext http, BoardService service, GalleryQuery query, Guid id, string? search, string? model, string? cursor, int? pageSize, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        var board = actor is null ? BoardResult.NotFound<BoardSummary>() : await service.GetAsync(actor, id, cancellationToken);
        if (board.Value is not { } summary)
        {
            return NotFound();
        }

        var page = await query.ListAsync(actor!, new GalleryFilter { BoardId = id, Search = search, ModelId = model }, cursor, pageSize ?? GalleryQuery.DefaultPageSize, GallerySource.Mine, cancellationToken);
        return Results.Ok(new BoardPage(summary, page.Items, page.NextCursor, page.HiddenByLicence));
    }

    private static async Task<IResult> RenameAsync(HttpContext http, BoardService service, Guid id, BoardNameRequest? request, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        return actor is null ? NotFound() : Answer(await service.RenameAsync(actor, id, request?.Name, cancellationToken), Results.Ok);
    }

    private static async Task<IResult> DeleteAsync(HttpContext http, BoardService service, Guid id, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        return actor is null ? NotFound() : Answer(await service.DeleteAsync(actor, id, "api", cancellationToken), _ => Results.NoContent());
    }

    private static async Task<IResult> AddImagesAsync(HttpContext http, BoardService service, Guid id, BoardImagesRequest? request, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        if (actor is null)
        {
            return NotFound();
        }

        // The board is looked up before the body is judged: a board the caller may not see answers 404 whatever was sent.
        return Answer(await service.AddImagesAsync(actor, id, [.. request?.ImageIds ?? []], cancellationToken), Results.Ok);
    }

    private static async Task<IResult> RemoveImageAsync(HttpContext http, BoardService service, Guid id, Guid imageId, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        return actor is null ? NotFound() : Answer(await service.RemoveImageAsync(actor, id, imageId, cancellationToken), _ => Results.NoContent());
    }

    private static async Task<IResult> ReorderAsync(HttpContext http, BoardService service, Guid id, BoardImagesRequest? request, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        return actor is null ? NotFound() : Answer(await service.ReorderAsync(actor, id, request?.ImageIds ?? [], cancellationToken), _ => Results.NoContent());
    }

    private static async Task<IResult> SharesAsync(HttpContext http, BoardService service, ShareTarget target, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        return actor is null ? NotFound() : Answer(await service.SharesAsync(actor, target, cancellationToken), Results.Ok);
    }

    private static async Task<IResult> ShareAsync(HttpContext http, BoardService service, ShareTarget target, ShareRequest? request, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        if (actor is null)
        {
            return NotFound();
        }

        var team = request?.Team == true;
        if (request is null || team == !string.IsNullOrWhiteSpace(request.Email))
        {
            // Judged after the target: what the caller does not own answers 404 whatever was sent.
            var owned = await service.SharesAsync(actor, target, cancellationToken);
            return owned.Succeeded
                ? Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Not possible", detail: "Give either a teammate's email or team: true (everyone on this server).")
                : Answer(owned, _ => NotFound());
        }

        return Answer(await service.ShareAsync(actor, target, team ? null : request.Email, request.Role ?? ShareRole.Viewer, "api", cancellationToken), Results.Ok);
    }

    private static async Task<IResult> UnshareAsync(HttpContext http, BoardService service, Guid id, CancellationToken cancellationToken)
    {
        // Through the API an administrator is a plain user: their key carries no role, and their cookie ends only their own shares here.
        var actor = JobActor.From(http.User) is { } signedIn ? signedIn with { IsAdmin = false } : null;
        return actor is null ? NotFound() : Answer(await service.UnshareAsync(actor, id, "api", cancellationToken), _ => Results.NoContent());
    }

    private static async Task<IResult> ReuseAsync(HttpContext http, SharedImageReuse reuse, Guid id, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        var result = actor is null ? new ReuseResult(ImageAccessOutcome.NotFound) : await reuse.CopyAsReferenceAsync(actor, id, "api", cancellationToken);
        return result.Outcome switch
        {
            ImageAccessOutcome.Allowed => Results.Ok(new ReuseResponse(result.ImageId!.Value, $"/studio?reference={result.ImageId}")),
            ImageAccessOutcome.LicenceRefused => JobEndpoints.LicenceRefused(result.Reason),
            ImageAccessOutcome.WrongKind => Results.Problem(statusCode: StatusCodes.Status422UnprocessableEntity, title: "Not usable as a reference", detail: result.Reason),
            _ => NotFound(),
        };
    }

    private static async Task<IResult> FeedAsync(HttpContext http, GalleryQuery query, string? search, string? model, string? ownerId, Guid? board, string? cursor, int? pageSize, CancellationToken cancellationToken)
    {
        var actor = JobActor.From(http.User);
        if (actor is null)
        {
            return Results.Unauthorized();
        }

        var filter = new GalleryFilter { Search = search, ModelId = model, OwnerId = ownerId, BoardId = board };
        return Results.Ok(await query.ListAsync(actor, filter, cursor, pageSize ?? GalleryQuery.DefaultPageSize, GallerySource.SharedWithMe, cancellationToken));
    }
}
