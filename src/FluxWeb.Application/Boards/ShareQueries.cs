using FluxWeb.Domain.Images;
using FluxWeb.Persistence;

namespace FluxWeb.Application.Boards;

/// <summary>
/// Who may see what beyond their own images, as database filters, so the image door
/// (<see cref="Images.ImageAccess"/>), the team feed, boards and the ZIP agree row for row. An output
/// is shared with a user when it is shared with them or the team directly, or when it is on a board
/// that is theirs or shared with them or the team. Only outputs are ever shared: uploads and masks stay
/// their owner's.
/// </summary>
public static class ShareQueries
{
    /// <summary>Outputs of other accounts that <paramref name="userId"/> may read through a share (their own are not included).</summary>
    public static IQueryable<StoredImage> SharedWith(this IQueryable<StoredImage> images, FluxWebDbContext db, string userId) =>
        images.Where(i => i.Kind == StoredImageKind.Output && i.OwnerId != userId
            && (db.Shares.Any(s => s.ImageId == i.Id && (s.GranteeId == userId || s.GranteeId == null))
                || db.BoardImages.Any(e => e.ImageId == i.Id && db.Boards.Any(b => b.Id == e.BoardId
                    && (b.OwnerId == userId || db.Shares.Any(s => s.BoardId == b.Id && (s.GranteeId == userId || s.GranteeId == null)))))));

    /// <summary>Boards <paramref name="userId"/> may open: their own and those shared with them or the team.</summary>
    public static IQueryable<Domain.Boards.Board> Visible(this IQueryable<Domain.Boards.Board> boards, FluxWebDbContext db, string userId) =>
        boards.Where(b => b.OwnerId == userId || db.Shares.Any(s => s.BoardId == b.Id && (s.GranteeId == userId || s.GranteeId == null)));
}
