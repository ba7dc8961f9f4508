using FluxWeb.Application.Jobs;
using FluxWeb.Inference.Pipeline;
using Microsoft.Extensions.Time.Testing;

namespace FluxWeb.Application.Tests.Jobs;

/// <summary>
/// A finished job's last preview outlives the job for a moment: the Studio learns of the end from an event
/// that can arrive after the browser asked for the preview it shows, and that request must not meet a 404.
/// </summary>
public sealed class LiveJobBoardTests
{
    private readonly FakeTimeProvider time = new(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));

    private static void Preview(LiveProgress live, int step) =>
        live.Update(new GenerationProgress(GenerationStage.Denoising, step, 4, TimeSpan.Zero, new PreviewImage(2, 2, new byte[2 * 2 * 3])));

    [Fact]
    public void A_finished_jobs_last_preview_is_served_for_a_minute_then_forgotten()
    {
        var board = new LiveJobBoard(time);
        var id = Guid.NewGuid();
        Preview(board.Start(id, "ada", 4), step: 3);

        board.Finish(id);

        Assert.Null(board.Running(id));
        var kept = board.LatestPreview(id);
        Assert.NotNull(kept);
        Assert.Equal(("ada", (int?)3), (kept.OwnerId, kept.PreviewStep));
        Assert.NotNull(kept.PreviewPng());

        time.Advance(LiveJobBoard.FinishedPreviewKept - TimeSpan.FromSeconds(1));
        Assert.NotNull(board.LatestPreview(id));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(board.LatestPreview(id));
    }

    [Fact]
    public void A_job_that_ended_before_its_first_preview_leaves_nothing()
    {
        var board = new LiveJobBoard(time);
        var id = Guid.NewGuid();
        board.Start(id, "ada", 4);

        board.Finish(id);

        Assert.Null(board.LatestPreview(id));
    }

    [Fact]
    public void However_many_jobs_end_at_once_only_the_latest_previews_are_kept()
    {
        var board = new LiveJobBoard(time);
        var ids = Enumerable.Range(0, LiveJobBoard.FinishedPreviewsKept + 5).Select(_ => Guid.NewGuid()).ToList();
        foreach (var id in ids)
        {
            Preview(board.Start(id, "ada", 4), step: 1);
            board.Finish(id);
            time.Advance(TimeSpan.FromMilliseconds(10));
        }

        Assert.All(ids.Take(5), id => Assert.Null(board.LatestPreview(id)));
        Assert.All(ids.Skip(5), id => Assert.NotNull(board.LatestPreview(id)));
    }
}
