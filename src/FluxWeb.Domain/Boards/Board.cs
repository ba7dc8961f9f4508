namespace FluxWeb.Domain.Boards;

/// <summary>
/// A named collection of images kept by one account. Deleting a board never deletes an image: the
/// board only holds references (<see cref="BoardImage"/>).
/// </summary>
public sealed class Board
{
    public Guid Id { get; set; }

    public required string OwnerId { get; set; }

    public required string Name { get; set; }

    public DateTime CreatedUtc { get; set; }
}

/// <summary>
/// An image on a board. Only an image's own owner puts it on a board (the board's owner, or a
/// contributor adding their own), so a board never passes on an image its owner did not choose to show.
/// </summary>
public sealed class BoardImage
{
    public Guid BoardId { get; set; }

    public Guid ImageId { get; set; }

    /// <summary>Who put it there: always the image's owner.</summary>
    public required string AddedById { get; set; }

    /// <summary>Order on the board, ascending; the board's owner reorders.</summary>
    public int Position { get; set; }

    public DateTime AddedUtc { get; set; }
}

/// <summary>What a share lets its grantees do.</summary>
public enum ShareRole
{
    /// <summary>See the board or image, download it, reuse its settings or the image in their own Studio.</summary>
    Viewer = 0,

    /// <summary>A board's viewer who may also add (and remove) images of their own.</summary>
    Contributor = 1,
}

/// <summary>
/// A board or one image shown to a named teammate, or to everyone on the server (<see cref="GranteeId"/>
/// null: the team). Removing the row ends the access at the next request.
/// </summary>
public sealed class Share
{
    public Guid Id { get; set; }

    /// <summary>The account whose board or image this is (the only one who may end it).</summary>
    public required string OwnerId { get; set; }

    /// <summary>Exactly one of <see cref="BoardId"/> and <see cref="ImageId"/> is set.</summary>
    public Guid? BoardId { get; set; }

    public Guid? ImageId { get; set; }

    /// <summary>The teammate; null for the whole team (every account on this server).</summary>
    public string? GranteeId { get; set; }

    public ShareRole Role { get; set; }

    public DateTime CreatedUtc { get; set; }
}
