using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Inference.Packages;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Application.Tests.Jobs;

/// <summary>The worker's scenarios, each on both queue topologies: the single box, and three silos of one cluster.</summary>
public sealed class JobWorkerTests : IAsyncLifetime
{
    private readonly TempFolder folder = new("fluxweb-worker");
    private readonly FakeImageGenerator engine = new();
    private QueueCluster? started;
    private QueueCluster host = default!;
    private JobActor ada = default!;
    private JobActor bob = default!;
    private JobActor admin = default!;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (started is not null)
        {
            await started.DisposeAsync();
        }

        folder.Dispose();
    }

    /// <summary>The cluster each scenario starts with, and its three users.</summary>
    private async Task StartAsync(QueueTopology topology)
    {
        host = started = await QueueCluster.StartAsync(topology, folder.Path, engine);
        ada = await host.CreateUserAsync("ada@example.com");
        bob = await host.CreateUserAsync("bob@example.com");
        admin = await host.CreateUserAsync("admin@example.com", Roles.Admin);
    }

    private async Task<Guid> SubmitAsync(JobActor user, string prompt, string model = QueueHost.ModelId)
    {
        var result = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request(prompt, model: model));
        Assert.True(result.Accepted, result.Error);
        return result.JobIds.Single();
    }

    [Theory]
    [QueueTopologies]
    public async Task A_job_runs_and_stores_its_image_with_owner_model_licence_and_seed(QueueTopology topology)
    {
        await StartAsync(topology);
        var id = await SubmitAsync(ada, "a lighthouse", QueueHost.OtherModelId);

        var job = await host.WaitForEndAsync(id);

        Assert.Equal(JobState.Succeeded, job.State);
        Assert.Equal(1, job.Attempts);
        Assert.Equal(job.TotalSteps, job.Step);
        Assert.NotNull(job.StartedUtc);
        Assert.NotNull(job.FinishedUtc);
        var image = await host.WithDbAsync(db => db.Images.SingleAsync(i => i.Id == job.OutputImageId));
        Assert.Equal((ada.UserId, StoredImageKind.Output, id, QueueHost.OtherModelId), (image.OwnerId, image.Kind, image.JobId, image.ModelId));
        Assert.Equal((ModelLicence.FluxNonCommercialId, (bool?)false), (image.LicenceId, image.CommercialUse));
        Assert.Equal(((ulong?)1, 64, 64, "a lighthouse"), (image.Seed, image.Width, image.Height, image.Prompt));
        var path = host.Services.GetRequiredService<ImageStore>().FullPath(image.RelativePath);
        Assert.StartsWith(Path.Combine(folder.Path, "data", "images"), path, StringComparison.Ordinal);
        var bytes = await File.ReadAllBytesAsync(path);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), image.Sha256);
        using var png = Image.Load<Rgb24>(bytes);
        Assert.Equal(FakeImageGenerator.ColourOf(1), png[10, 10]);
    }

    [Theory]
    [QueueTopologies]
    public async Task Every_output_is_watermarked_and_signed_and_its_serial_traces_back_to_the_job(QueueTopology topology)
    {
        await StartAsync(topology);
        // The watermark needs at least 256×256 pixels.
        var submitted = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("a marked lighthouse", model: QueueHost.OtherModelId).With(s => s with { Width = 256, Height = 256 }));
        var id = submitted.JobIds.Single();
        var job = await host.WaitForEndAsync(id);
        var image = await host.WithDbAsync(db => db.Images.SingleAsync(i => i.Id == job.OutputImageId));
        var bytes = await File.ReadAllBytesAsync(host.Services.GetRequiredService<ImageStore>().FullPath(image.RelativePath));

        var report = host.Services.GetRequiredService<FluxWeb.Provenance.Inspection.ProvenanceInspector>().Inspect(bytes);

        Assert.NotNull(image.WatermarkSerial);
        Assert.True(report.Watermark!.Present);
        Assert.Equal(image.WatermarkSerial, report.Watermark.Serial);
        Assert.Equal(id, await host.Services.GetRequiredService<FluxWeb.Application.Outputs.WatermarkSerials>().FindJobAsync(report.Watermark.Serial!.Value));
        Assert.Contains(report.C2pa.State, new[] { FluxWeb.Provenance.C2pa.C2paValidationState.Valid, FluxWeb.Provenance.C2pa.C2paValidationState.Trusted });
        Assert.Equal(QueueHost.OtherModelId, report.C2pa.ModelId);
        Assert.Equal(ModelLicence.FluxNonCommercialId, report.C2pa.ModelLicence);
        Assert.Equal("Unchecked", image.SafetyVerdict);
    }

    [Theory]
    [QueueTopologies]
    public async Task Consecutive_outputs_get_consecutive_serials(QueueTopology topology)
    {
        await StartAsync(topology);
        var first = await host.WaitForEndAsync(await SubmitAsync(ada, "one", QueueHost.OtherModelId));
        var second = await host.WaitForEndAsync(await SubmitAsync(ada, "two", QueueHost.OtherModelId));

        var serials = await host.WithDbAsync(db => db.Images.Where(i => i.Id == first.OutputImageId || i.Id == second.OutputImageId).OrderBy(i => i.CreatedUtc).Select(i => i.WatermarkSerial).ToListAsync());

        Assert.Equal(serials[0] + 1, serials[1]);
    }

    [Theory]
    [QueueTopologies]
    public async Task A_batch_becomes_one_job_per_image_with_consecutive_seeds(QueueTopology topology)
    {
        await StartAsync(topology);
        var result = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("three foxes", count: 3, seed: 41));

        var jobs = await Task.WhenAll(result.JobIds.Select(id => host.WaitForEndAsync(id)));

        Assert.Equal([41UL, 42UL, 43UL], jobs.OrderBy(j => j.BatchIndex).Select(j => j.Settings.Seed!.Value));
        Assert.Single(jobs.Select(j => j.BatchId).Distinct());
        Assert.All(jobs, j => Assert.Equal(JobState.Succeeded, j.State));
    }

    [Theory]
    [QueueTopologies]
    public async Task A_request_the_engine_refuses_queues_nothing_and_says_why(QueueTopology topology)
    {
        await StartAsync(topology);
        var result = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("").With(s => s with { Prompt = " " }));
        var tooMany = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("many", count: 9));
        var noModel = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("x", model: "missing"));
        var tooLong = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request(new string('a', GenerationLimits.MaxPromptCharacters + 1)));

        Assert.Equal("Write a prompt first.", result.Error);
        Assert.Equal("Ask for between 1 and 8 images at a time.", tooMany.Error);
        Assert.Equal("The model 'missing' is not installed on this server.", noModel.Error);
        Assert.StartsWith("The prompt is too long", tooLong.Error, StringComparison.Ordinal);
        Assert.Equal(0, await host.WithDbAsync(db => db.Jobs.CountAsync()));
    }

    [Theory]
    [QueueTopologies]
    public async Task Out_of_memory_fails_the_job_with_a_readable_reason_and_the_queue_goes_on(QueueTopology topology)
    {
        await StartAsync(topology);
        engine.FailAt = (request, step) => request.Prompt == "huge" && step == 3 ? FakeImageGenerator.OutOfMemory() : null;
        var huge = await SubmitAsync(ada, "huge");
        var next = await SubmitAsync(bob, "small");

        var failed = await host.WaitForEndAsync(huge);
        var succeeded = await host.WaitForEndAsync(next);

        Assert.Equal(JobState.Failed, failed.State);
        Assert.Equal(FakeImageGenerator.OutOfMemory().Message, failed.Error);
        Assert.Null(failed.OutputImageId);
        Assert.Equal(JobState.Succeeded, succeeded.State);
    }

    [Theory]
    [QueueTopologies]
    public async Task An_unexpected_engine_exception_fails_only_that_job_and_is_logged_not_shown(QueueTopology topology)
    {
        await StartAsync(topology);
        engine.FailAt = (request, step) => request.Prompt == "bug" ? new InvalidOperationException("internal detail: tensor shape mismatch") : null;
        var bug = await SubmitAsync(ada, "bug");
        var next = await SubmitAsync(ada, "fine");

        var failed = await host.WaitForEndAsync(bug);

        Assert.Equal(JobRunner.UnexpectedFailure, failed.Error);
        Assert.Equal(JobState.Succeeded, (await host.WaitForEndAsync(next)).State);
        Assert.Contains(host.Logs.Lines, l => l.Contains("failed unexpectedly", StringComparison.Ordinal) && l.Contains("tensor shape mismatch", StringComparison.Ordinal));
    }

    [Theory]
    [QueueTopologies]
    public async Task The_owner_cancels_a_queued_job_and_it_never_reaches_the_engine(QueueTopology topology)
    {
        await StartAsync(topology);
        var hold = engine.HoldNextJob(step: 1);
        var blocker = await SubmitAsync(bob, "blocker");
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(10));
        var waiting = await SubmitAsync(ada, "waiting");

        Assert.Equal(CancelOutcome.Cancelled, await host.Jobs.CancelAsync(ada, waiting));
        hold.Release();

        Assert.Equal(JobState.Succeeded, (await host.WaitForEndAsync(blocker)).State);
        var cancelled = await host.JobAsync(waiting);
        Assert.Equal((JobState.Cancelled, "Cancelled by you."), (cancelled.State, cancelled.Error));
        Assert.DoesNotContain(engine.Started, r => r.Prompt == "waiting");
    }

    [Theory]
    [QueueTopologies]
    public async Task The_owner_cancels_a_running_job_mid_step_and_the_next_job_runs(QueueTopology topology)
    {
        await StartAsync(topology);
        var hold = engine.HoldNextJob(step: 2);
        var running = await SubmitAsync(ada, "long one");
        var other = await SubmitAsync(ada, "next one");
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(CancelOutcome.Stopping, await host.Jobs.CancelAsync(ada, running));

        var cancelled = await host.WaitForEndAsync(running);
        Assert.Equal(JobState.Cancelled, cancelled.State);
        Assert.Contains(engine.Cancelled, r => r.Prompt == "long one");
        Assert.DoesNotContain(engine.Completed, r => r.Prompt == "long one");
        Assert.Equal(JobState.Succeeded, (await host.WaitForEndAsync(other)).State);
        Assert.Null(cancelled.OutputImageId);
    }

    [Theory]
    [QueueTopologies]
    public async Task Nobody_else_can_cancel_a_job_but_an_admin_can(QueueTopology topology)
    {
        await StartAsync(topology);
        var hold = engine.HoldNextJob(step: 1);
        var running = await SubmitAsync(ada, "ada's running job");
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(10));
        var queued = await SubmitAsync(ada, "ada's queued job");

        Assert.Equal(CancelOutcome.NotFound, await host.Jobs.CancelAsync(bob, running));
        Assert.Equal(CancelOutcome.NotFound, await host.Jobs.CancelAsync(bob, queued));
        Assert.Equal(JobState.Running, (await host.JobAsync(running)).State);
        Assert.Equal(JobState.Queued, (await host.JobAsync(queued)).State);

        Assert.Equal(CancelOutcome.Cancelled, await host.Jobs.CancelAsync(admin, queued));
        Assert.Equal(CancelOutcome.Stopping, await host.Jobs.CancelAsync(admin, running));

        var ended = await host.WaitForEndAsync(running);
        Assert.Equal((JobState.Cancelled, "Cancelled by an administrator."), (ended.State, ended.Error));
        Assert.Equal("Cancelled by an administrator.", (await host.JobAsync(queued)).Error);
        Assert.Equal(CancelOutcome.AlreadyFinished, await host.Jobs.CancelAsync(ada, running));
    }

    [Theory]
    [QueueTopologies]
    public async Task Cancelling_one_job_leaves_the_owners_other_jobs_alone(QueueTopology topology)
    {
        await StartAsync(topology);
        var hold = engine.HoldNextJob(step: 1);
        var batch = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("four", count: 4));
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(CancelOutcome.Cancelled, await host.Jobs.CancelAsync(ada, batch.JobIds[2]));
        hold.Release();

        var jobs = await Task.WhenAll(batch.JobIds.Select(id => host.WaitForEndAsync(id)));
        Assert.Equal([JobState.Succeeded, JobState.Succeeded, JobState.Cancelled, JobState.Succeeded], jobs.Select(j => j.State));
    }

    [Theory]
    [QueueTopologies]
    public async Task Reference_images_are_the_owners_own_uploads(QueueTopology topology)
    {
        await StartAsync(topology);
        var store = host.Services.GetRequiredService<ImageStore>();
        using var upload = new MemoryStream();
        using (var picture = new Image<Rgb24>(96, 80, new Rgb24(10, 200, 30)))
        {
            await picture.SaveAsPngAsync(upload);
        }

        upload.Position = 0;
        var reference = await store.SaveUploadAsync(ada.UserId, upload);

        var mine = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("edit it").With(s => s with { ReferenceImageIds = [reference.Id] }));
        var theirs = await host.Generation.SubmitAsync(bob.UserId, QueueHost.Request("steal it").With(s => s with { ReferenceImageIds = [reference.Id] }));

        Assert.Equal("Reference image 1 was not found. Upload it again.", theirs.Error);
        var job = await host.WaitForEndAsync(mine.JobIds.Single());
        Assert.Equal((JobState.Succeeded, JobMode.Edit, 96, 80), (job.State, job.Mode, job.ResolvedWidth, job.ResolvedHeight));
        var seen = engine.Inputs.Single(r => r.Prompt == "edit it");
        Assert.Equal((96, 80, new Rgb24(10, 200, 30)), seen.References.Single());
    }

    [Theory]
    [QueueTopologies]
    public async Task Live_events_reach_the_owner_only_with_progress_and_a_preview_url(QueueTopology topology)
    {
        await StartAsync(topology);
        var adaEvents = new List<JobEvent>();
        var bobEvents = new List<JobEvent>();
        using var adaSubscription = host.Events.Subscribe(ada, e => { lock (adaEvents) { adaEvents.Add(e); } });
        using var bobSubscription = host.Events.Subscribe(bob, e => { lock (bobEvents) { bobEvents.Add(e); } });

        var id = await SubmitAsync(ada, "watched");
        await host.WaitForEndAsync(id);
        await WaitUntilAsync(() => { lock (adaEvents) { return adaEvents.Any(e => e.Kind == JobEventKind.Succeeded); } });

        JobEvent[] seen;
        lock (adaEvents)
        {
            seen = [.. adaEvents];
        }

        Assert.Equal(JobEventKind.Queued, seen[0].Kind);
        Assert.Contains(seen, e => e.Kind == JobEventKind.Started);
        var progress = seen.Where(e => e.Kind == JobEventKind.Progress && e.Step > 0).ToList();
        Assert.Equal([1, 2, 3, 4], progress.Select(e => e.Step).Distinct());
        Assert.All(progress, e => Assert.Equal($"/api/v1/jobs/{id}/preview?step={e.Step}", e.PreviewUrl));
        var done = seen.Single(e => e.Kind == JobEventKind.Succeeded);
        Assert.Equal($"/api/v1/images/{done.OutputImageId}", done.OutputUrl);
        lock (bobEvents)
        {
            Assert.Empty(bobEvents);
        }
    }

    [Theory]
    [QueueTopologies]
    public async Task Only_the_owner_or_an_admin_may_subscribe_to_a_job(QueueTopology topology)
    {
        await StartAsync(topology);
        var id = await SubmitAsync(ada, "private");

        Assert.Null(await host.Events.SubscribeJobAsync(bob, id, _ => { }));
        Assert.Null(await host.Events.SubscribeJobAsync(bob, Guid.NewGuid(), _ => { }));
        using var owner = await host.Events.SubscribeJobAsync(ada, id, _ => { });
        using var administrator = await host.Events.SubscribeJobAsync(admin, id, _ => { });
        Assert.NotNull(owner);
        Assert.NotNull(administrator);
    }

    [Theory]
    [QueueTopologies]
    public async Task The_preview_is_served_while_running_to_the_owner_or_an_admin_only(QueueTopology topology)
    {
        await StartAsync(topology);
        var hold = engine.HoldNextJob(step: 2);
        var id = await SubmitAsync(ada, "preview me");
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(10));

        // On one silo the preview is there when the step is; on three it travels from the worker's node with the step's
        // event, a moment later.
        await Eventually.Value(() => host.Jobs.GetAsync(ada, id), v => v?.PreviewUrl == $"/api/v1/jobs/{id}/preview?step=2", () => "The owner's view of the running job names no preview of step 2.");
        var png = (await host.Jobs.GetPreviewAsync(ada, id)).Value;
        Assert.NotNull(png);
        using (var preview = Image.Load<Rgb24>(png))
        {
            Assert.Equal(FakeImageGenerator.ColourOf(1 + 2), preview[0, 0]);
        }

        Assert.NotNull((await host.Jobs.GetPreviewAsync(admin, id)).Value);
        Assert.True((await host.Jobs.GetPreviewAsync(bob, id)).NotFound);
        var view = await host.Jobs.GetAsync(ada, id);
        Assert.Equal((JobState.Running, 2, $"/api/v1/jobs/{id}/preview?step=2"), (view!.State, view.Step, view.PreviewUrl));
        Assert.Null(await host.Jobs.GetAsync(bob, id));

        hold.Release();
        await host.WaitForEndAsync(id);
        var board = host.Services.GetRequiredService<LiveJobBoard>();
        await Eventually.Until(() => board.Running(id) is null, "The worker should take the ended job off the board of running jobs.");
        // A page that has not heard of the end yet may still ask for the preview it shows: it is still there
        // (LiveJobBoard.FinishedPreviewKept), for the same people only.
        Assert.NotNull((await host.Jobs.GetPreviewAsync(ada, id)).Value);
        Assert.True((await host.Jobs.GetPreviewAsync(bob, id)).NotFound);
    }

    [Theory]
    [QueueTopologies]
    public async Task Queue_positions_follow_the_fair_forecast(QueueTopology topology)
    {
        await StartAsync(topology);
        var hold = engine.HoldNextJob(step: 1);
        var first = await SubmitAsync(ada, "running");
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(10));
        var adaBatch = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("ada's backlog", count: 3));
        var bobJob = await SubmitAsync(bob, "bob's one");

        await WaitUntilAsync(async () => (await host.Jobs.GetAsync(bob, bobJob))?.QueuePosition is not null);
        var mine = await host.Jobs.ListMineAsync(ada);
        var bobs = await host.Jobs.ListMineAsync(bob);

        Assert.Equal(1, bobs.Single().QueuePosition);
        Assert.Equal([2, 3, 4], mine.Where(j => j.State == JobState.Queued).OrderBy(j => j.BatchIndex).Select(j => j.QueuePosition));
        Assert.Equal(first, mine.Single(j => j.State == JobState.Running).Id);
        Assert.DoesNotContain(mine, j => j.Id == bobJob);
        hold.Release();
        await Task.WhenAll(adaBatch.JobIds.Select(id => host.WaitForEndAsync(id)));
    }

    [Theory]
    [QueueTopologies]
    public async Task A_bigger_gpu_may_run_several_jobs_at_once_when_configured(QueueTopology topology)
    {
        using var other = new TempFolder("fluxweb-concurrency");
        var twoAtOnce = new FakeImageGenerator { StepDelay = TimeSpan.FromMilliseconds(30) };
        await using var big = await QueueCluster.StartAsync(topology, other.Path, twoAtOnce, new Dictionary<string, string?> { ["Queue:MaxConcurrentJobs"] = "2" });
        var user = await big.CreateUserAsync("ada@example.com");

        var result = await big.Generation.SubmitAsync(user.UserId, QueueHost.Request("pair", count: 6));
        var jobs = await Task.WhenAll(result.JobIds.Select(id => big.WaitForEndAsync(id)));

        Assert.All(jobs, j => Assert.Equal(JobState.Succeeded, j.State));
        Assert.Equal(2, twoAtOnce.MaxConcurrentRuns);
    }

    private static async Task WaitUntilAsync(Func<bool> condition) => await WaitUntilAsync(() => Task.FromResult(condition()));

    private static Task WaitUntilAsync(Func<Task<bool>> condition) =>
        Eventually.Until(condition, "The condition did not come true in time.", TimeSpan.FromSeconds(10));
}
