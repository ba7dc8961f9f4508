using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Provenance.Filters;
using FluxWeb.Testing;
using FluxWeb.Testing.Safety;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Application.Tests.Safety;

/// <summary>The real nsfwjs classifier in the output step of the job worker: flagged outputs are blurred for review or blocked, per policy.</summary>
public sealed class OutputSafetyTests : IAsyncLifetime
{
    private readonly TempFolder folder = new("fluxweb-output-safety");

    public Task InitializeAsync()
    {
        NsfwjsPackage.InstallInto(folder.Combine("models"));
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_flagged_output_is_stored_blurred_with_its_score_and_waits_in_the_admin_review()
    {
        await using var host = await StartAsync("BlurAndFlag");
        var filter = host.Services.GetRequiredService<ImageContentFilter>();
        Assert.True(filter.Status.Enabled, filter.Status.Description);
        Assert.Contains("nsfwjs 4.4.0 MobileNetV2", filter.Status.Description, StringComparison.Ordinal);
        var ada = await host.CreateUserAsync("ada@example.com");

        var flagged = await RunAsync(host, ada.UserId, "flagged");
        var allowed = await RunAsync(host, ada.UserId, "allowed");

        Assert.Equal(JobState.Succeeded, flagged.State);
        var row = await host.WithDbAsync(db => db.Images.AsNoTracking().SingleAsync(i => i.Id == flagged.OutputImageId));
        Assert.Equal(nameof(ContentVerdict.BlurredForReview), row.SafetyVerdict);
        Assert.True(row.NsfwScore > 0.7, $"score {row.NsfwScore}");
        using (var original = TestPictures.Flagged())
        using (var stored = await host.Services.GetRequiredService<ImageStore>().LoadAsync<Rgba32>(ada.UserId, row.Id))
        {
            Assert.True(Detail(stored!) < Detail(original) / 5, "the stored output must be blurred");
        }

        var allowedRow = await host.WithDbAsync(db => db.Images.AsNoTracking().SingleAsync(i => i.Id == allowed.OutputImageId));
        Assert.Equal(nameof(ContentVerdict.Allowed), allowedRow.SafetyVerdict);
        Assert.True(allowedRow.NsfwScore < 0.1);

        var review = await host.Services.GetRequiredService<ContentPolicy>().ReviewListAsync(ChangeActor.CommandLine);
        var item = Assert.Single(review);
        Assert.Equal((row.Id, "ada@example.com"), (item.ImageId, item.OwnerEmail));
    }

    [Fact]
    public async Task Under_the_block_policy_a_flagged_output_fails_its_job_and_nothing_is_stored()
    {
        await using var host = await StartAsync("Block");
        var ada = await host.CreateUserAsync("ada@example.com");

        var job = await RunAsync(host, ada.UserId, "flagged");

        Assert.Equal(JobState.Failed, job.State);
        Assert.Contains("flagged by the content filter and was not kept", job.Error, StringComparison.Ordinal);
        Assert.Null(job.OutputImageId);
        Assert.Equal(0, await host.WithDbAsync(db => db.Images.CountAsync()));
    }

    [Fact]
    public async Task Thresholds_an_admin_saves_apply_at_once_and_after_a_restart()
    {
        await using (var host = await StartAsync("BlurAndFlag"))
        {
            var policy = host.Services.GetRequiredService<ContentPolicy>();
            Assert.Equal("flagged when Porn + Hentai ≥ 0.7 or Sexy ≥ 0.9", policy.ImageThresholds.Describe());
            Assert.Contains("must be more than 0", await policy.SaveImageThresholdsAsync([new ClassThreshold(["Porn"], 1.5)], ChangeActor.CommandLine), StringComparison.Ordinal);
            Assert.Contains("'Nudity' is not one of", await policy.SaveImageThresholdsAsync([new ClassThreshold(["Nudity"], 0.5)], ChangeActor.CommandLine), StringComparison.Ordinal);

            Assert.Null(await policy.SaveImageThresholdsAsync([new ClassThreshold(["Porn", "Hentai"], 0.95)], ChangeActor.CommandLine));
            var ada = await host.CreateUserAsync("ada@example.com");
            var job = await RunAsync(host, ada.UserId, "flagged");
            var row = await host.WithDbAsync(db => db.Images.AsNoTracking().SingleAsync(i => i.Id == job.OutputImageId));
            Assert.Equal(nameof(ContentVerdict.Allowed), row.SafetyVerdict);
        }

        // Applied by the start-up every process runs, not by a call of the test's own.
        await using var restarted = await StartAsync("BlurAndFlag");
        Assert.Equal("flagged when Porn + Hentai ≥ 0.95", restarted.Services.GetRequiredService<ImageContentFilter>().Policy.Describe());
    }

    private Task<QueueHost> StartAsync(string action) => QueueHost.StartAsync(
        folder.Path,
        new FakeImageGenerator { Picture = request => (request.Prompt == "flagged" ? TestPictures.Flagged() : TestPictures.Allowed()).CloneAs<Rgb24>() },
        new Dictionary<string, string?> { ["Provenance:Filters:OutputAction"] = action });

    private static async Task<Job> RunAsync(QueueHost host, string userId, string prompt)
    {
        var submitted = await host.Generation.SubmitAsync(userId, QueueHost.Request(prompt, model: QueueHost.OtherModelId));
        Assert.True(submitted.Accepted, submitted.Error);
        return await host.WaitForEndAsync(submitted.JobIds.Single(), TimeSpan.FromSeconds(60));
    }

    /// <summary>Fine detail: summed magnitude of the horizontal second difference of green.</summary>
    private static double Detail(Image<Rgba32> image)
    {
        double sum = 0;
        for (var y = 0; y < image.Height; y++)
        {
            for (var x = 1; x < image.Width - 1; x++)
            {
                sum += Math.Abs((2 * image[x, y].G) - image[x - 1, y].G - image[x + 1, y].G);
            }
        }

        return sum / (image.Width * image.Height);
    }

    public Task DisposeAsync()
    {
        folder.Dispose();
        return Task.CompletedTask;
    }
}
