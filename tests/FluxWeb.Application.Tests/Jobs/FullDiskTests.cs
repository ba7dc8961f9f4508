using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Jobs.Loop;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Jobs;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Application.Tests.Jobs;

/// <summary>
/// A full data disk while a job stores its image: the job fails and says why, its image goes back to
/// the quota, no half-written file stays, and a database that refuses writes for a while delays the
/// record of the failure instead of leaving the job "Running" until the next start.
/// </summary>
public sealed class FullDiskTests : IAsyncLifetime
{
    private readonly TempFolder folder = new("fluxweb-full-disk");
    private readonly FakeImageGenerator engine = new();
    private readonly FullDiskImageFiles files = new() { Full = false };
    private readonly FullDiskDatabase database = new() { Full = false };
    private QueueHost host = default!;
    private JobActor ada = default!;

    public async Task InitializeAsync()
    {
        host = await QueueHost.StartAsync(folder.Path, engine, services: s =>
        {
            s.AddSingleton<IImageFiles>(files);
            s.AddSingleton<IInterceptor>(database);
        });
        ada = await host.CreateUserAsync("ada@example.com");
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private string ImagesFolder => Path.Combine(folder.Path, "data", ImageStore.Folder);

    private IEnumerable<string> FilesInImagesFolder(string pattern) =>
        Directory.Exists(ImagesFolder) ? Directory.EnumerateFiles(ImagesFolder, pattern, SearchOption.AllDirectories) : [];

    [Fact]
    public async Task An_extension_whose_canvas_cannot_be_written_says_why_and_keeps_nothing()
    {
        var made = await host.WaitForEndAsync((await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("a lighthouse to extend").With(s => s with { Width = 256, Height = 256 }))).JobIds.Single());
        Assert.Equal(JobState.Succeeded, made.State);
        files.Full = true;
        // Less than a PNG header: the canvas is the first file the extension writes, and it fails.
        files.BytesLeft = 16;

        var refused = await Assert.ThrowsAsync<ImageStorageException>(() =>
            host.Services.GetRequiredService<ResultLoop>().ExtendAsync(ada, made.OutputImageId!.Value, new CanvasMargins(32, 0, 32, 0)));

        Assert.True(refused.DiskFull);
        Assert.StartsWith("The image could not be stored: the server's disk is full.", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, await host.WithDbAsync(db => db.Images.CountAsync()));
        Assert.Equal(1, await host.WithDbAsync(db => db.Jobs.CountAsync()));
        Assert.Empty(FilesInImagesFolder("*.partial"));
        Assert.Single(FilesInImagesFolder("*.png"));
    }

    [Fact]
    public async Task A_job_whose_output_cannot_be_written_fails_with_the_reason_gives_its_image_back_and_leaves_no_partial_file()
    {
        files.Full = true;
        var submitted = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("a lighthouse on a full disk"));
        Assert.True(submitted.Accepted, submitted.Error);

        var job = await host.WaitForEndAsync(submitted.JobIds.Single());

        Assert.Equal(JobState.Failed, job.State);
        Assert.Equal("The image could not be stored: the server's disk is full. Nothing was kept; an administrator needs to free space. Your quota was given back.", job.Error);
        Assert.Null(job.OutputImageId);
        Assert.True(files.Failures >= 1, "The write must have hit the full disk.");
        Assert.Empty(FilesInImagesFolder("*.partial"));
        Assert.Empty(FilesInImagesFolder("*.png"));
        Assert.Equal(0, await host.WithDbAsync(db => db.DailyUsage.Where(u => u.UserId == ada.UserId).SumAsync(u => u.Images)));
        Assert.Equal(0, await host.WithDbAsync(db => db.Images.CountAsync()));
        Assert.Contains(host.Logs.Lines, l => l.Contains("could not be stored", StringComparison.Ordinal) && l.Contains("No space left on device", StringComparison.Ordinal));

        // Space freed: the next job is stored as usual.
        files.Full = false;
        var next = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("after the clean-up"));
        Assert.Equal(JobState.Succeeded, (await host.WaitForEndAsync(next.JobIds.Single())).State);
    }

    [Fact]
    public async Task While_the_database_too_refuses_writes_the_failure_is_recorded_as_soon_as_it_accepts_them_again()
    {
        var hold = engine.HoldNextJob(step: 1);
        var submitted = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("a lighthouse when the disk fills"));
        var id = submitted.JobIds.Single();
        await hold.Reached;

        // The disk fills while the job runs: the image file and every database write fail.
        files.Full = true;
        database.Full = true;
        hold.Release();
        await Eventually.Until(
            () => host.Logs.Lines.Any(l => l.Contains($"Could not record how job {id} ended (attempt 2)", StringComparison.Ordinal)),
            "The worker should keep trying to record the failure.");

        Assert.Equal(JobState.Running, (await host.JobAsync(id)).State);

        // An administrator frees space; no restart.
        database.Full = false;
        var job = await host.WaitForEndAsync(id, TimeSpan.FromSeconds(20));

        Assert.Equal(JobState.Failed, job.State);
        Assert.Contains("the server's disk is full", job.Error, StringComparison.Ordinal);
        Assert.Equal(0, await host.WithDbAsync(db => db.DailyUsage.Where(u => u.UserId == ada.UserId).SumAsync(u => u.Images)));
        Assert.Empty(FilesInImagesFolder("*.partial"));
    }
}
