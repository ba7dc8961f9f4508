using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Time;
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
        var board = new LiveJobBoard(new AppClock(time));
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
        var board = new LiveJobBoard(new AppClock(time));
        var id = Guid.NewGuid();
        board.Start(id, "ada", 4);

        board.Finish(id);

        Assert.Null(board.LatestPreview(id));
    }

    [Fact]
    public void However_many_jobs_end_at_once_only_the_latest_previews_are_kept()
    {
        var board = new LiveJobBoard(new AppClock(time));
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

    private static JobEvent Relayed(JobEventKind kind, Guid id, int step = 0) =>
        new(kind, id, "ada", kind == JobEventKind.Succeeded ? Domain.Jobs.JobState.Succeeded : Domain.Jobs.JobState.Running, DateTime.UnixEpoch)
        {
            Stage = kind == JobEventKind.Progress ? GenerationStage.Denoising : null,
            Step = step,
            TotalSteps = 4,
        };

    [Fact]
    public void A_job_running_on_another_process_shows_its_relayed_step_and_preview_here_and_its_last_preview_after_its_end()
    {
        var board = new LiveJobBoard(new AppClock(time));
        var id = Guid.NewGuid();
        byte[] png = [1, 2, 3];

        board.ApplyRelayed(Relayed(JobEventKind.Started, id), null, null);
        Assert.Null(board.LatestPreview(id));
        board.ApplyRelayed(Relayed(JobEventKind.Progress, id, step: 2), 2, png);
        board.ApplyRelayed(Relayed(JobEventKind.Progress, id, step: 3), null, null);

        var live = board.Running(id);
        Assert.NotNull(live);
        Assert.Equal(("ada", 3, 2), (live.OwnerId, live.Step, live.PreviewStep));
        Assert.Same(png, board.LatestPreview(id)?.PreviewPng());

        board.ApplyRelayed(Relayed(JobEventKind.Succeeded, id), null, null);
        Assert.Null(board.Running(id));
        Assert.Same(png, board.LatestPreview(id)?.PreviewPng());
        time.Advance(LiveJobBoard.FinishedPreviewKept);
        Assert.Null(board.LatestPreview(id));
    }

    [Fact]
    public void A_relayed_job_whose_end_never_arrives_is_forgotten_after_a_silence()
    {
        var board = new LiveJobBoard(new AppClock(time));
        var id = Guid.NewGuid();
        board.ApplyRelayed(Relayed(JobEventKind.Progress, id, step: 1), 1, [1]);

        time.Advance(LiveJobBoard.RelayedSilenceKept - TimeSpan.FromSeconds(1));
        Assert.NotNull(board.LatestPreview(id));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(board.Running(id));
        Assert.Null(board.LatestPreview(id));
    }

    [Fact]
    public void The_relayed_end_of_an_earlier_run_does_not_touch_the_run_of_the_same_job_here()
    {
        var board = new LiveJobBoard(new AppClock(time));
        var id = Guid.NewGuid();
        board.ApplyRelayed(Relayed(JobEventKind.Progress, id, step: 1), 1, [1]);
        var here = board.Start(id, "ada", 4);
        Preview(here, step: 1);

        board.ApplyRelayed(Relayed(JobEventKind.Requeued, id), null, null);

        Assert.Same(here, board.Running(id));
        Assert.Same(here, board.LatestPreview(id));
    }

    [Fact]
    public void However_many_jobs_are_relayed_only_the_latest_heard_are_remembered()
    {
        var board = new LiveJobBoard(new AppClock(time));
        var ids = Enumerable.Range(0, LiveJobBoard.RelayedKept + 3).Select(_ => Guid.NewGuid()).ToList();
        foreach (var id in ids)
        {
            board.ApplyRelayed(Relayed(JobEventKind.Progress, id, step: 1), 1, [1]);
            time.Advance(TimeSpan.FromMilliseconds(10));
        }

        Assert.All(ids.Take(3), id => Assert.Null(board.Running(id)));
        Assert.All(ids.Skip(3), id => Assert.NotNull(board.Running(id)));
    }
}
