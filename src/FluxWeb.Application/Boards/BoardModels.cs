using FluxWeb.Domain.Boards;

namespace FluxWeb.Application.Boards;

public enum BoardOutcome
{
    Done,

    /// <summary>No such board, image or share, or not one the caller may see (the two look the same).</summary>
    NotFound,

    /// <summary>The request itself is wrong (an empty name, an unknown teammate); <see cref="BoardResult{T}.Error"/> says what.</summary>
    Invalid,

    /// <summary>The caller may see it but not change it (a viewer adding to a board, a member sharing someone else's board).</summary>
    ReadOnly,

    /// <summary>The caller's account may not receive the image (a commercial account and a non-commercial model's output): it may not share or move it either.</summary>
    LicenceRefused,
}

public sealed record BoardResult<T>(BoardOutcome Outcome, T? Value = default, string? Error = null)
{
    public bool Succeeded => Outcome == BoardOutcome.Done;
}

public static class BoardResult
{
    public static BoardResult<T> Done<T>(T value) => new(BoardOutcome.Done, value);

    public static BoardResult<T> NotFound<T>() => new(BoardOutcome.NotFound);

    public static BoardResult<T> Invalid<T>(string error) => new(BoardOutcome.Invalid, Error: error);

    public static BoardResult<T> ReadOnly<T>(string error) => new(BoardOutcome.ReadOnly, Error: error);

    public static BoardResult<T> LicenceRefused<T>(string? reason) => new(BoardOutcome.LicenceRefused, Error: reason);
}

/// <summary>A board as a list shows it. <see cref="ImageCount"/> counts what this viewer may see (the licence applies).</summary>
public sealed record BoardSummary(
    Guid Id,
    string Name,
    string OwnerId,
    string? OwnerEmail,
    bool IsMine,
    ShareRole? MyRole,
    int ImageCount,
    int ShareCount,
    DateTime CreatedUtc)
{
    /// <summary>The owner, or a contributor: may add (and take back) images of their own.</summary>
    public bool MayContribute => IsMine || MyRole == ShareRole.Contributor;
}

/// <summary>What a share points at: a board or one image.</summary>
public readonly record struct ShareTarget(Guid? BoardId, Guid? ImageId)
{
    public static ShareTarget Board(Guid id) => new(id, null);

    public static ShareTarget Image(Guid id) => new(null, id);
}

/// <summary>One share as its owner sees it. <see cref="GranteeEmail"/> is null for the team (everyone on this server).</summary>
public sealed record ShareView(Guid Id, Guid? BoardId, Guid? ImageId, string? GranteeId, string? GranteeEmail, ShareRole Role, DateTime CreatedUtc)
{
    public bool IsTeam => GranteeId is null;

    public string Audience => GranteeEmail ?? "Everyone on this server";
}

/// <summary>What adding images to a board did: those added (or already there) and those left out, with why.</summary>
public sealed record BoardAddition(IReadOnlyList<Guid> Added, IReadOnlyList<BoardSkip> Skipped);

public sealed record BoardSkip(Guid ImageId, string Reason);
