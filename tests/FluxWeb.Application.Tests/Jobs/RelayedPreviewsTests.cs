using FluxWeb.Application.Jobs;
using FluxWeb.Cluster;
using FluxWeb.Domain.Jobs;
using FluxWeb.Domain.Time;
using FluxWeb.Inference.Pipeline;
using Microsoft.Extensions.Time.Testing;

namespace FluxWeb.Application.Tests.Jobs;

/// <summary>The step previews that travel with relayed progress events: each step's own picture, bounded in size, never a URL the receiver cannot serve.</summary>
public sealed class RelayedPreviewsTests
{
    private readonly LiveJobBoard board = new(new AppClock(new FakeTimeProvider(new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero))));
    private readonly RelayedPreviews previews = new();
    private readonly Guid jobId = Guid.NewGuid();

    /// <summary>The engine reports a step (its preview one colour per step); the relay queues its event with the preview as it is now.</summary>
    private static (JobEventMessage Message, PreviewSnapshot? Preview) Report(LiveProgress live, Guid jobId, int step, int size = 2)
    {
        live.Update(new GenerationProgress(GenerationStage.Denoising, step, 8, TimeSpan.Zero, new PreviewImage(size, size, Enumerable.Repeat((byte)(step * 20), size * size * 3).ToArray())));
        var message = JobEventMessage.From(new JobEvent(JobEventKind.Progress, jobId, "ada", JobState.Running, DateTime.UnixEpoch)
        {
            Stage = GenerationStage.Denoising,
            Step = step,
            TotalSteps = 8,
            PreviewUrl = JobUrls.Preview(jobId, step),
        });
        return (message, live.SnapshotPreview());
    }

    private JobEventMessage Send((JobEventMessage Message, PreviewSnapshot? Preview) queued) => previews.Attach(queued.Message, queued.Preview);

    [Fact]
    public void Each_event_carries_its_own_steps_picture_even_when_the_relay_is_behind_the_engine()
    {
        var live = board.Start(jobId, "ada", 8);
        var expected = new Dictionary<int, byte[]>();
        var queued = new List<(JobEventMessage, PreviewSnapshot?)>();
        for (var step = 1; step <= 4; step++)
        {
            queued.Add(Report(live, jobId, step));
            expected[step] = live.PreviewPng()!;
        }

        // Sent only now, with the engine at step 4: a picture taken when sending would be step 4's for every event.
        var sent = queued.Select(Send).ToList();

        Assert.Equal([1, 2, 3, 4], sent.Select(m => m.PreviewStep));
        Assert.All(sent, m => Assert.Equal(JobUrls.Preview(jobId, m.Step), m.PreviewUrl));
        Assert.All(sent, m => Assert.Equal(expected[m.Step], m.Preview));
    }

    [Fact]
    public void A_step_already_sent_is_not_sent_again_and_its_repeat_points_at_it()
    {
        var live = board.Start(jobId, "ada", 8);
        var first = Report(live, jobId, 1);
        Assert.NotNull(Send(first).Preview);

        var again = Send(first);

        Assert.Null(again.Preview);
        Assert.Equal(JobUrls.Preview(jobId, 1), again.PreviewUrl);
    }

    [Fact]
    public void A_preview_over_the_size_limit_stays_home_and_the_event_names_no_preview()
    {
        var live = board.Start(jobId, "ada", 8);

        // Random pixels do not compress: well over the limit as PNG.
        live.Update(new GenerationProgress(GenerationStage.Denoising, 1, 8, TimeSpan.Zero, new PreviewImage(512, 512, RandomBytes(512 * 512 * 3))));
        var message = previews.Attach(
            JobEventMessage.From(new JobEvent(JobEventKind.Progress, jobId, "ada", JobState.Running, DateTime.UnixEpoch) { Step = 1, PreviewUrl = JobUrls.Preview(jobId, 1) }),
            live.SnapshotPreview());

        Assert.True(live.PreviewPng()!.Length > RelayedPreviews.MaxBytes);
        Assert.Null(message.Preview);
        Assert.Null(message.PreviewUrl);
    }

    [Fact]
    public void A_new_run_of_the_job_sends_its_first_preview_at_once()
    {
        var live = board.Start(jobId, "ada", 8);
        Assert.NotNull(Send(Report(live, jobId, 1)).Preview);

        previews.Attach(JobEventMessage.From(new JobEvent(JobEventKind.Requeued, jobId, "ada", JobState.Queued, DateTime.UnixEpoch)), null);
        previews.Attach(JobEventMessage.From(new JobEvent(JobEventKind.Started, jobId, "ada", JobState.Running, DateTime.UnixEpoch)), null);

        Assert.NotNull(Send(Report(board.Start(jobId, "ada", 8), jobId, 1)).Preview);
    }

    [Fact]
    public void Events_without_a_preview_pass_unchanged()
    {
        var message = JobEventMessage.From(new JobEvent(JobEventKind.Progress, jobId, "ada", JobState.Running, DateTime.UnixEpoch) { Step = 0 });

        Assert.Same(message, previews.Attach(message, null));
    }

    private static byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        new Random(18).NextBytes(bytes);
        return bytes;
    }
}
