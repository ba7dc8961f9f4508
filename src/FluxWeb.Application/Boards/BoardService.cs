using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Boards;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Time;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Boards;

/// <summary>
/// Boards and shares, for the pages and the API alike. Rules: a board's owner renames, reorders,
/// deletes and shares it; a contributor adds and takes back images of their own; anyone a board is
/// shared with sees it. Only an image's owner puts it on a board or shares it, so nothing reaches an
/// audience its owner did not choose. Ids of boards, images or shares the caller may not see answer
/// <see cref="BoardOutcome.NotFound"/> like unknown ones. Shares and unshares are audited.
/// </summary>
public sealed partial class BoardService(
    IDbContextFactory<FluxWebDbContext> contexts,
    LicenceGate licences,
    AuditLog audit,
    AppClock time,
    ILogger<BoardService> logger)
{
    public const int MaxNameLength = 100;

    public const int MaxImagesPerBoard = 1000;

    /// <summary>At most this many images in one add (a multi-select).</summary>
    public const int MaxImagesPerRequest = 500;

    /// <summary>The caller's boards, then those shared with them, each with what the caller may do.</summary>
    public async Task<IReadOnlyList<BoardSummary>> ListAsync(JobActor actor, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var boards = await Summaries(db, actor, await HidesAsync(actor, cancellationToken), db.Boards.Visible(db, actor.UserId)).ToListAsync(cancellationToken);
        return [.. boards.OrderByDescending(b => b.IsMine).ThenBy(b => b.Name, StringComparer.CurrentCultureIgnoreCase).ThenBy(b => b.CreatedUtc)];
    }

    public async Task<BoardResult<BoardSummary>> GetAsync(JobActor actor, Guid boardId, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var board = await Summaries(db, actor, await HidesAsync(actor, cancellationToken), db.Boards.Where(b => b.Id == boardId).Visible(db, actor.UserId))
            .SingleOrDefaultAsync(cancellationToken);
        return board is null ? BoardResult.NotFound<BoardSummary>() : BoardResult.Done<BoardSummary>(board);
    }

    public async Task<BoardResult<BoardSummary>> CreateAsync(JobActor actor, string? name, CancellationToken cancellationToken = default)
    {
        if (CheckName(name) is { } error)
        {
            return BoardResult.Invalid<BoardSummary>(error);
        }

        var board = new Board { Id = Guid.NewGuid(), OwnerId = actor.UserId, Name = name!.Trim(), CreatedUtc = time.GetUtcNow().UtcDateTime };
        await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
        {
            db.Boards.Add(board);
            await db.SaveChangesAsync(cancellationToken);
        }

        return await GetAsync(actor, board.Id, cancellationToken);
    }

    public async Task<BoardResult<BoardSummary>> RenameAsync(JobActor actor, Guid boardId, string? name, CancellationToken cancellationToken = default)
    {
        if (await OwnBoardAsync(actor, boardId, cancellationToken) is { } refused)
        {
            return new BoardResult<BoardSummary>(refused.Outcome, Error: refused.Error);
        }

        if (CheckName(name) is { } error)
        {
            return BoardResult.Invalid<BoardSummary>(error);
        }

        await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
        {
            await db.Boards.Where(b => b.Id == boardId).ExecuteUpdateAsync(set => set.SetProperty(b => b.Name, name!.Trim()), cancellationToken);
        }

        return await GetAsync(actor, boardId, cancellationToken);
    }

    /// <summary>Deletes the board, its shares and its list; every image stays where it was.</summary>
    public async Task<BoardResult<bool>> DeleteAsync(JobActor actor, Guid boardId, string channel, CancellationToken cancellationToken = default)
    {
        if (await OwnBoardAsync(actor, boardId, cancellationToken) is { } refused)
        {
            return new BoardResult<bool>(refused.Outcome, Error: refused.Error);
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var shares = await db.Shares.Where(s => s.BoardId == boardId).CountAsync(cancellationToken);
        var name = await db.Boards.Where(b => b.Id == boardId).Select(b => b.Name).SingleAsync(cancellationToken);
        await db.Boards.Where(b => b.Id == boardId).ExecuteDeleteAsync(cancellationToken);
        LogDeleted(logger, boardId, actor.UserId);
        if (shares > 0)
        {
            await audit.RecordAsync(new AuditEntry(AuditActions.Unshare, actor.UserId)
            {
                Detail = $"Deleted the shared board \"{name}\" ({boardId}), ending its {shares} share(s).",
                Channel = channel,
            }, CancellationToken.None);
        }

        return BoardResult.Done<bool>(true);
    }

    /// <summary>
    /// Puts the caller's own outputs on a board they own or contribute to, after the ones already there. Images that
    /// are not the caller's (or not theirs to use under their licence) are skipped with the reason, never added.
    /// </summary>
    public async Task<BoardResult<BoardAddition>> AddImagesAsync(JobActor actor, Guid boardId, IReadOnlyCollection<Guid> imageIds, CancellationToken cancellationToken = default)
    {
        var board = await GetAsync(actor, boardId, cancellationToken);
        if (board.Value is not { } summary)
        {
            return BoardResult.NotFound<BoardAddition>();
        }

        if (!summary.MayContribute)
        {
            return BoardResult.ReadOnly<BoardAddition>("This board is shared with you to look at: only its owner and contributors add images.");
        }

        if (imageIds.Count is 0 or > MaxImagesPerRequest)
        {
            return BoardResult.Invalid<BoardAddition>($"Give between 1 and {MaxImagesPerRequest} images to add (imageIds).");
        }

        var hides = await HidesAsync(actor, cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var wanted = imageIds.Distinct().ToList();
        var own = db.Images.Where(i => wanted.Contains(i.Id) && i.OwnerId == actor.UserId && i.Kind == StoredImageKind.Output);
        var usable = await (hides ? own.Where(LicenceQueries.ReceivableByCommercialAccount) : own).Select(i => i.Id).ToListAsync(cancellationToken);
        var present = await db.BoardImages.Where(e => e.BoardId == boardId).Select(e => new { e.ImageId, e.Position }).ToListAsync(cancellationToken);
        var already = present.Select(p => p.ImageId).ToHashSet();
        var fresh = wanted.Where(id => usable.Contains(id) && !already.Contains(id)).ToList();
        if (present.Count + fresh.Count > MaxImagesPerBoard)
        {
            return BoardResult.Invalid<BoardAddition>($"A board holds at most {MaxImagesPerBoard} images; this one has {present.Count}. Make another board.");
        }

        var next = present.Count == 0 ? 0 : present.Max(p => p.Position) + 1;
        var now = time.GetUtcNow().UtcDateTime;
        db.BoardImages.AddRange(fresh.Select((id, index) => new BoardImage { BoardId = boardId, ImageId = id, AddedById = actor.UserId, Position = next + index, AddedUtc = now }));
        await db.SaveChangesAsync(cancellationToken);
        var skipped = wanted.Where(id => !usable.Contains(id))
            .Select(id => new BoardSkip(id, "Not one of your generated images (or not one your account's licence lets it use): only an image's owner puts it on a board."))
            .ToList();
        return BoardResult.Done<BoardAddition>(new BoardAddition([.. wanted.Where(usable.Contains)], skipped));
    }

    /// <summary>Takes an image off a board (the image stays): the owner takes any, a contributor their own.</summary>
    public async Task<BoardResult<bool>> RemoveImageAsync(JobActor actor, Guid boardId, Guid imageId, CancellationToken cancellationToken = default)
    {
        var board = await GetAsync(actor, boardId, cancellationToken);
        if (board.Value is not { } summary)
        {
            return BoardResult.NotFound<bool>();
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        if (await HidesAsync(actor, cancellationToken) && await db.Images.Where(i => i.Id == imageId).AnyAsync(LicenceQueries.NonCommercialOutput, cancellationToken))
        {
            // The board does not list it for this account, so it answers like any image not on it.
            return BoardResult.NotFound<bool>();
        }

        var entry = db.BoardImages.Where(e => e.BoardId == boardId && e.ImageId == imageId);
        if (!summary.IsMine)
        {
            if (!summary.MayContribute)
            {
                return BoardResult.ReadOnly<bool>("This board is shared with you to look at: only its owner and contributors change it.");
            }

            entry = entry.Where(e => e.AddedById == actor.UserId);
        }

        return await entry.ExecuteDeleteAsync(cancellationToken) > 0 ? BoardResult.Done<bool>(true) : BoardResult.NotFound<bool>();
    }

    /// <summary>The owner's new order: the given images first, in that order, then the rest as they were. Unknown ids are ignored.</summary>
    public async Task<BoardResult<bool>> ReorderAsync(JobActor actor, Guid boardId, IReadOnlyList<Guid> order, CancellationToken cancellationToken = default)
    {
        if (await OwnBoardAsync(actor, boardId, cancellationToken) is { } refused)
        {
            return new BoardResult<bool>(refused.Outcome, Error: refused.Error);
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var entries = await db.BoardImages.Where(e => e.BoardId == boardId).OrderBy(e => e.Position).ToListAsync(cancellationToken);
        var rank = order.Distinct().Select((id, index) => (id, index)).ToDictionary(p => p.id, p => p.index);
        var sorted = entries.OrderBy(e => rank.TryGetValue(e.ImageId, out var r) ? r : int.MaxValue).ThenBy(e => e.Position).ToList();
        for (var i = 0; i < sorted.Count; i++)
        {
            sorted[i].Position = i;
        }

        await db.SaveChangesAsync(cancellationToken);
        return BoardResult.Done<bool>(true);
    }

    /// <summary>The shares of a board or image, for its owner only (anyone else: not found).</summary>
    public async Task<BoardResult<IReadOnlyList<ShareView>>> SharesAsync(JobActor actor, ShareTarget target, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        if (!await OwnsTargetAsync(db, actor, target, cancellationToken))
        {
            return BoardResult.NotFound<IReadOnlyList<ShareView>>();
        }

        if (await ImageRefusalAsync(db, actor, target, cancellationToken) is { } refusal)
        {
            return BoardResult.LicenceRefused<IReadOnlyList<ShareView>>(refusal);
        }

        var shares = await Views(db, db.Shares.Where(s => s.BoardId == target.BoardId && s.ImageId == target.ImageId)).ToListAsync(cancellationToken);
        return BoardResult.Done<IReadOnlyList<ShareView>>([.. shares.OrderBy(s => s.GranteeEmail is not null).ThenBy(s => s.GranteeEmail, StringComparer.OrdinalIgnoreCase)]);
    }

    /// <summary>
    /// Shows the caller's board or output to a teammate (by e-mail) or to the team (<paramref name="granteeEmail"/>
    /// null), read-only or, for a board, as contributors. Sharing again with the same audience changes the role.
    /// The licence still applies to every reader: a commercial teammate never receives a non-commercial output.
    /// </summary>
    public async Task<BoardResult<ShareView>> ShareAsync(JobActor actor, ShareTarget target, string? granteeEmail, ShareRole role, string channel, CancellationToken cancellationToken = default)
    {
        if (target.BoardId is null == target.ImageId is null)
        {
            return BoardResult.Invalid<ShareView>("Share a board or an image.");
        }

        if (target.ImageId is not null && role == ShareRole.Contributor)
        {
            return BoardResult.Invalid<ShareView>("Only boards take contributors; share an image read-only.");
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        if (!await OwnsTargetAsync(db, actor, target, cancellationToken))
        {
            // A board or image shared with the caller is visible to them, but not theirs to pass on.
            var visible = target.BoardId is { } board
                ? await db.Boards.Where(b => b.Id == board).Visible(db, actor.UserId).AnyAsync(cancellationToken)
                : await db.Images.Where(i => i.Id == target.ImageId).SharedWith(db, actor.UserId).AnyAsync(cancellationToken);
            return visible ? BoardResult.ReadOnly<ShareView>("Only its owner can share it.") : BoardResult.NotFound<ShareView>();
        }

        if (await ImageRefusalAsync(db, actor, target, cancellationToken) is { } refusal)
        {
            return BoardResult.LicenceRefused<ShareView>(refusal);
        }

        string? granteeId = null;
        if (!string.IsNullOrWhiteSpace(granteeEmail))
        {
            var normalized = granteeEmail.Trim().ToUpperInvariant();
            granteeId = await db.Users.Where(u => u.NormalizedEmail == normalized && !u.Disabled).Select(u => u.Id).SingleOrDefaultAsync(cancellationToken);
            if (granteeId is null)
            {
                return BoardResult.Invalid<ShareView>($"No active account on this server uses the e-mail address {granteeEmail.Trim()}.");
            }

            if (granteeId == actor.UserId)
            {
                return BoardResult.Invalid<ShareView>("That is your own account: you always see your own boards and images.");
            }
        }

        var share = await db.Shares.SingleOrDefaultAsync(s => s.BoardId == target.BoardId && s.ImageId == target.ImageId && s.GranteeId == granteeId, cancellationToken);
        var changed = share is not null;
        if (share is null)
        {
            share = new Share { Id = Guid.NewGuid(), OwnerId = actor.UserId, BoardId = target.BoardId, ImageId = target.ImageId, GranteeId = granteeId, CreatedUtc = time.GetUtcNow().UtcDateTime };
            db.Shares.Add(share);
        }

        share.Role = role;
        await db.SaveChangesAsync(cancellationToken);
        if (role == ShareRole.Viewer && share.BoardId is { } boardId)
        {
            await DropOrphanedContributionsAsync(db, boardId, cancellationToken);
        }

        var view = await Views(db, db.Shares.Where(s => s.Id == share.Id)).SingleAsync(cancellationToken);
        await audit.RecordAsync(new AuditEntry(AuditActions.Share, actor.UserId)
        {
            TargetUserId = granteeId,
            ImageId = target.ImageId,
            Detail = $"{(changed ? "Changed the share of" : "Shared")} {await DescribeAsync(db, target, cancellationToken)} with {view.Audience} as {(role == ShareRole.Contributor ? "contributor" : "viewer")}.",
            Channel = channel,
        }, CancellationToken.None);
        return BoardResult.Done<ShareView>(view);
    }

    /// <summary>
    /// Ends a share (its owner, or an administrator signed in): the audience loses access at its next request, and a
    /// contributor who can no longer contribute has their images taken off the board (the images stay theirs).
    /// </summary>
    public async Task<BoardResult<bool>> UnshareAsync(JobActor actor, Guid shareId, string channel, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var share = await db.Shares.AsNoTracking().SingleOrDefaultAsync(s => s.Id == shareId, cancellationToken);
        if (share is null || !actor.MayAccess(share.OwnerId))
        {
            return BoardResult.NotFound<bool>();
        }

        var target = new ShareTarget(share.BoardId, share.ImageId);
        var what = await DescribeAsync(db, target, cancellationToken);
        var audience = share.GranteeId is null ? "Everyone on this server" : await db.Users.Where(u => u.Id == share.GranteeId).Select(u => u.Email).SingleOrDefaultAsync(cancellationToken);
        if (await db.Shares.Where(s => s.Id == shareId).ExecuteDeleteAsync(cancellationToken) == 0)
        {
            return BoardResult.NotFound<bool>();
        }

        if (share.BoardId is { } boardId)
        {
            await DropOrphanedContributionsAsync(db, boardId, cancellationToken);
        }

        await audit.RecordAsync(new AuditEntry(AuditActions.Unshare, actor.UserId)
        {
            TargetUserId = share.GranteeId,
            ImageId = share.ImageId,
            Detail = $"Stopped sharing {what} with {audience}.",
            Channel = channel,
        }, CancellationToken.None);
        return BoardResult.Done<bool>(true);
    }

    internal static string? CheckName(string? name)
    {
        var trimmed = name?.Trim();
        return string.IsNullOrEmpty(trimmed) ? "Give the board a name."
            : trimmed.Length > MaxNameLength ? $"A board's name has at most {MaxNameLength} characters."
            : trimmed.Any(char.IsControl) ? "A board's name cannot contain control characters."
            : null;
    }

    /// <summary>An owner whose account may no longer receive their own non-commercial output may not list or widen its shares.</summary>
    private async Task<string?> ImageRefusalAsync(FluxWebDbContext db, JobActor actor, ShareTarget target, CancellationToken cancellationToken)
    {
        if (target.ImageId is not { } imageId)
        {
            return null;
        }

        var image = await db.Images.AsNoTracking().SingleAsync(i => i.Id == imageId, cancellationToken);
        var decision = await licences.MayReceiveAsync(actor.UserId, isAdmin: false, image, LicencedAction.View, cancellationToken);
        return decision.Allowed ? null : decision.Reason;
    }

    private async Task<bool> HidesAsync(JobActor actor, CancellationToken cancellationToken) =>
        LicenceQueries.HidesNonCommercialOutputs(isAdmin: false, await licences.AccountTypeAsync(actor.UserId, cancellationToken));

    private static IQueryable<BoardSummary> Summaries(FluxWebDbContext db, JobActor actor, bool hides, IQueryable<Board> boards)
    {
        var userId = actor.UserId;
        var images = hides ? db.Images.Where(LicenceQueries.ReceivableByCommercialAccount) : db.Images;
        return boards.Select(b => new BoardSummary(
            b.Id,
            b.Name,
            b.OwnerId,
            db.Users.Where(u => u.Id == b.OwnerId).Select(u => u.Email).FirstOrDefault(),
            b.OwnerId == userId,
            // Roles are stored as text, so the strongest is found by name, not by ordering.
            b.OwnerId == userId ? null
                : db.Shares.Any(s => s.BoardId == b.Id && s.Role == ShareRole.Contributor && (s.GranteeId == userId || s.GranteeId == null)) ? ShareRole.Contributor
                : ShareRole.Viewer,
            db.BoardImages.Count(e => e.BoardId == b.Id && images.Any(i => i.Id == e.ImageId)),
            b.OwnerId == userId ? db.Shares.Count(s => s.BoardId == b.Id) : 0,
            b.CreatedUtc));
    }

    private static IQueryable<ShareView> Views(FluxWebDbContext db, IQueryable<Share> shares) =>
        shares.Select(s => new ShareView(s.Id, s.BoardId, s.ImageId, s.GranteeId, db.Users.Where(u => u.Id == s.GranteeId).Select(u => u.Email).FirstOrDefault(), s.Role, s.CreatedUtc));

    private static async Task<bool> OwnsTargetAsync(FluxWebDbContext db, JobActor actor, ShareTarget target, CancellationToken cancellationToken) =>
        target.BoardId is { } boardId
            ? await db.Boards.AnyAsync(b => b.Id == boardId && b.OwnerId == actor.UserId, cancellationToken)
            : target.ImageId is { } imageId && await db.Images.AnyAsync(i => i.Id == imageId && i.OwnerId == actor.UserId && i.Kind == StoredImageKind.Output, cancellationToken);

    /// <summary>Only the owner changes a board; a member gets "read-only", anyone else "not found".</summary>
    private async Task<BoardResult<bool>?> OwnBoardAsync(JobActor actor, Guid boardId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var board = await db.Boards.Where(b => b.Id == boardId).Visible(db, actor.UserId).Select(b => new { b.OwnerId }).SingleOrDefaultAsync(cancellationToken);
        return board is null ? BoardResult.NotFound<bool>()
            : board.OwnerId != actor.UserId ? BoardResult.ReadOnly<bool>("Only the board's owner can change it.")
            : null;
    }

    /// <summary>Images contributors put on a board stay only while their contributor may still contribute.</summary>
    private static Task<int> DropOrphanedContributionsAsync(FluxWebDbContext db, Guid boardId, CancellationToken cancellationToken) =>
        db.BoardImages.Where(e => e.BoardId == boardId
                && !db.Boards.Any(b => b.Id == boardId && b.OwnerId == e.AddedById)
                && !db.Shares.Any(s => s.BoardId == boardId && s.Role == ShareRole.Contributor && (s.GranteeId == e.AddedById || s.GranteeId == null)))
            .ExecuteDeleteAsync(cancellationToken);

    private static async Task<string> DescribeAsync(FluxWebDbContext db, ShareTarget target, CancellationToken cancellationToken) =>
        target.BoardId is { } boardId
            ? $"the board \"{await db.Boards.Where(b => b.Id == boardId).Select(b => b.Name).SingleOrDefaultAsync(cancellationToken)}\" ({boardId})"
            : $"the image {target.ImageId}";

    [LoggerMessage(Level = LogLevel.Information, Message = "Board {BoardId} deleted by {UserId}")]
    private static partial void LogDeleted(ILogger logger, Guid boardId, string userId);
}
