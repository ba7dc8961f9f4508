using FluxWeb.Application.Jobs;
using FluxWeb.Cluster;
using FluxWeb.Domain.Jobs;
using FluxWeb.Inference.Pipeline;
using Microsoft.Extensions.Time.Testing;

namespace FluxWeb.Application.Tests.Jobs;

/// <summary>The step previews that travel with relayed progress events: bounded in rate and size, never a URL the receiver cannot serve.</summary>
public sealed class RelayedPreviewsTests
{
    private readonly FakeTimeProvider clock = new(new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero));
    private readonly LiveJobBoard board;
    private readonly RelayedPreviews previews;
    private readonly Guid jobId = Guid.NewGuid();

    public RelayedPreviewsTests()
    {
        board = new LiveJobBoard(clock);
        previews = new RelayedPreviews(board, clock);
    }

    private JobEventMessage Step(LiveProgress live, int step, int size = 2)
    {
        live.Update(new GenerationProgress(GenerationStage.Denoising, step, 8, TimeSpan.Zero, new PreviewImage(size, size, new byte[size * size * 3])));
        return previews.Attach(JobEventMessage.From(new JobEvent(JobEventKind.Progress, jobId, "ada", JobState.Running, DateTime.UnixEpoch)
        {
            Stage = GenerationStage.Denoising,
            Step = step,
            TotalSteps = 8,
            PreviewUrl = JobUrls.Preview(jobId, step),
        }));
    }

    [Fact]
    public void A_new_preview_goes_out_at_most_once_per_interval_and_events_between_point_at_the_last_one_sent()
    {
        var live = board.Start(jobId, "ada", 8);

        var first = Step(live, 1);
        Assert.Equal((1, JobUrls.Preview(jobId, 1)), (first.PreviewStep, first.PreviewUrl));
        Assert.NotNull(first.Preview);

        clock.Advance(RelayedPreviews.Interval / 2);
        var second = Step(live, 2);
        Assert.Null(second.Preview);
        Assert.Equal(JobUrls.Preview(jobId, 1), second.PreviewUrl);

        clock.Advance(RelayedPreviews.Interval / 2);
        var third = Step(live, 3);
        Assert.Equal((3, JobUrls.Preview(jobId, 3)), (third.PreviewStep, third.PreviewUrl));
        Assert.Equal(live.PreviewPng(), third.Preview);
    }

    [Fact]
    public void A_preview_over_the_size_limit_stays_home_and_the_event_names_no_preview()
    {
        var live = board.Start(jobId, "ada", 8);

        // Random pixels do not compress: well over the limit as PNG.
        live.Update(new GenerationProgress(GenerationStage.Denoising, 1, 8, TimeSpan.Zero, new PreviewImage(512, 512, RandomBytes(512 * 512 * 3))));
        var message = previews.Attach(JobEventMessage.From(new JobEvent(JobEventKind.Progress, jobId, "ada", JobState.Running, DateTime.UnixEpoch) { Step = 1, PreviewUrl = JobUrls.Preview(jobId, 1) }));

        Assert.True(live.PreviewPng()!.Length > RelayedPreviews.MaxBytes);
        Assert.Null(message.Preview);
        Assert.Null(message.PreviewUrl);
    }

    [Fact]
    public void A_new_run_of_the_job_sends_its_first_preview_at_once()
    {
        var live = board.Start(jobId, "ada", 8);
        Assert.NotNull(Step(live, 1).Preview);

        previews.Attach(JobEventMessage.From(new JobEvent(JobEventKind.Requeued, jobId, "ada", JobState.Queued, DateTime.UnixEpoch)));
        previews.Attach(JobEventMessage.From(new JobEvent(JobEventKind.Started, jobId, "ada", JobState.Running, DateTime.UnixEpoch)));

        Assert.NotNull(Step(board.Start(jobId, "ada", 8), 1).Preview);
    }

    [Fact]
    public void Events_without_a_preview_pass_unchanged()
    {
        var message = JobEventMessage.From(new JobEvent(JobEventKind.Progress, jobId, "ada", JobState.Running, DateTime.UnixEpoch) { Step = 0 });

        Assert.Same(message, previews.Attach(message));
    }

    private static byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        new Random(18).NextBytes(bytes);
        return bytes;
    }
}
