using FluxWeb.Application.Jobs;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Boards;

/// <summary>
/// "Auto-add new results to this board": the board is checked when the request is submitted and again, through
/// <see cref="BoardService"/>, when each job's result is recorded, since a board can be deleted or a contribution
/// ended while the job waits. A result that may not go on the board stays in its owner's gallery; the job succeeds,
/// and says so (<see cref="NotAddedNotice"/>).
/// </summary>
public sealed partial class BoardAutoAdd(BoardService boards, ILogger<BoardAutoAdd> logger)
{
    /// <summary>The same words for a board that does not exist, a stranger's and one shared to look at only.</summary>
    public const string UnknownBoard = "That board does not exist, or you may not add images to it. Choose one of your boards, or one you contribute to.";

    /// <summary>The job's notice when, by the time it succeeded, its owner could no longer add to the board it asked for.</summary>
    public const string NotAddedNotice = "Not added to the board you chose: that board no longer exists, or you may no longer add images to it. The image is in your gallery.";

    /// <summary>Whether the user owns or contributes to the board (the auto-add's owner is the job's, never an administrator's view).</summary>
    public async Task<bool> MayAddAsync(string userId, Guid boardId, CancellationToken cancellationToken = default) =>
        (await boards.GetAsync(new JobActor(userId, false), boardId, cancellationToken)).Value is { MayContribute: true };

    /// <summary>
    /// Decided just before a job's success is written: whether its result still goes on the board it asked for, and
    /// if not, the notice written into the job with its success (a finished job does not change afterwards). Never
    /// throws: when the board cannot be read now, the addition is tried after the success (<see cref="CompleteAsync"/>),
    /// which logs what goes wrong.
    /// </summary>
    public async Task<AutoAddPlan> PlanAsync(Guid jobId, string ownerId, Guid? boardId)
    {
        if (boardId is not { } board)
        {
            return AutoAddPlan.None;
        }

        try
        {
            return await MayAddAsync(ownerId, board, CancellationToken.None) ? new AutoAddPlan(board, null) : new AutoAddPlan(board, NotAddedNotice);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogCheckFailed(logger, ex, jobId, board);
            return new AutoAddPlan(board, null);
        }
    }

    /// <summary>After the success is committed: puts the result on the planned board, or logs why it does not go there; never throws.</summary>
    public async Task CompleteAsync(Guid jobId, string ownerId, AutoAddPlan plan, Guid imageId)
    {
        if (plan.Board is not { } board)
        {
            return;
        }

        if (plan.Notice is null)
        {
            await AddResultAsync(jobId, ownerId, board, imageId);
        }
        else
        {
            LogNotAdded(logger, jobId, imageId, board, "the board no longer exists, or its owner ended this account's contribution");
        }
    }

    /// <summary>Puts a finished job's output on the board it asked for, if its owner still may; never throws.</summary>
    private async Task<bool> AddResultAsync(Guid jobId, string ownerId, Guid boardId, Guid imageId)
    {
        try
        {
            var result = await boards.AddImagesAsync(new JobActor(ownerId, false), boardId, [imageId], CancellationToken.None);
            if (result.Value is { } addition && addition.Added.Contains(imageId))
            {
                LogAdded(logger, jobId, imageId, boardId);
                return true;
            }

            var reason = (result.Value is { Skipped: [var skip, ..] } ? skip.Reason : null) ?? result.Error ?? "the board no longer exists, or its owner ended this account's contribution";
            LogNotAdded(logger, jobId, imageId, boardId, reason);
            return false;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The image is recorded and the job succeeded; a board that cannot take it must not change that.
            LogAddFailed(logger, ex, jobId, imageId, boardId);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId}: could not check board {BoardId} before recording the result; adding it is tried afterwards")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception, Guid jobId, Guid boardId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: result {ImageId} added to board {BoardId} as asked at submission")]
    private static partial void LogAdded(ILogger logger, Guid jobId, Guid imageId, Guid boardId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} succeeded, but its result {ImageId} was not added to board {BoardId}: {Reason}")]
    private static partial void LogNotAdded(ILogger logger, Guid jobId, Guid imageId, Guid boardId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} succeeded, but adding its result {ImageId} to board {BoardId} failed")]
    private static partial void LogAddFailed(ILogger logger, Exception exception, Guid jobId, Guid imageId, Guid boardId);
}

/// <summary>What a succeeding job does about its "auto-add" board: <see cref="Board"/> asked for (null: none), and the notice when it no longer may.</summary>
public sealed record AutoAddPlan(Guid? Board, string? Notice)
{
    public static AutoAddPlan None { get; } = new(null, null);
}
