using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Application.Tests.Licensing;

/// <summary>
/// <see cref="ImageAccess"/>, the one licence-checked door: inputs in the worker (the mask too), the
/// job rule as a query and for single jobs, and the upload check that follows a watermark to its
/// model even after the image was deleted.
/// </summary>
public sealed class ImageAccessTests : IAsyncLifetime
{
    private readonly TempFolder folder = new("fluxweb-access");
    private readonly FakeImageGenerator engine = new();
    private QueueHost host = default!;

    public async Task InitializeAsync() => host = await QueueHost.StartAsync(folder.Path, engine);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private ImageAccess Access => host.Services.GetRequiredService<ImageAccess>();

    private Task SwitchAsync(JobActor user, AccountType type) =>
        host.WithDbAsync(db => db.Users.Where(u => u.Id == user.UserId).ExecuteUpdateAsync(set => set.SetProperty(u => u.AccountType, type)));

    private async Task<Job> MadeAsync(JobActor user, string model, ulong seed = 0x808080)
    {
        var submitted = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request($"made with {model}", seed: seed, model: model).With(s => s with { Width = 256, Height = 256 }));
        Assert.True(submitted.Accepted, submitted.Error);
        var job = await host.WaitForEndAsync(submitted.JobIds.Single());
        Assert.Equal(JobState.Succeeded, job.State);
        return job;
    }

    private async Task<Guid> UploadAsync(JobActor user, byte[]? bytes = null)
    {
        if (bytes is null)
        {
            using var picture = new Image<Rgb24>(256, 256, new Rgb24(10, 20, 30));
            using var png = new MemoryStream();
            await picture.SaveAsPngAsync(png);
            bytes = png.ToArray();
        }

        return (await host.Services.GetRequiredService<ImageStore>().SaveUploadAsync(user.UserId, new MemoryStream(bytes))).Id;
    }

    [Fact]
    public async Task The_worker_refuses_a_waiting_job_whose_mask_the_account_may_no_longer_receive()
    {
        var nico = await host.CreateUserAsync("nico@example.com", accountType: AccountType.NonCommercial);
        var output = (await MadeAsync(nico, QueueHost.OtherModelId)).OutputImageId!.Value;
        var source = await UploadAsync(nico);
        await SwitchAsync(nico, AccountType.Commercial);
        // A job written before inputs were checked at this door: an output given as its mask.
        var job = new Job
        {
            Id = Guid.NewGuid(),
            OwnerId = nico.UserId,
            BatchId = Guid.NewGuid(),
            Settings = new GenerationSettings { ModelId = QueueHost.ModelId, Prompt = "masked by a non-commercial output", Seed = 1, SourceImageId = source, MaskImageId = output, Strength = 0.9f },
            Mode = JobMode.MaskedEdit,
            ResolvedWidth = 256,
            ResolvedHeight = 256,
            ResolvedSteps = 4,
            TotalSteps = 4,
            State = JobState.Queued,
            EnqueuedUtc = DateTime.UtcNow,
        };
        await host.WithDbAsync(db =>
        {
            db.Jobs.Add(job);
            return db.SaveChangesAsync();
        });
        host.Services.GetRequiredService<JobQueueSignal>().Notify();

        var ended = await host.WaitForEndAsync(job.Id);

        Assert.Equal(JobState.Failed, ended.State);
        Assert.Contains("may not use images made by klein-test-nc as input", ended.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(engine.Started, g => g.Prompt == job.Settings.Prompt);
        Assert.True(await host.WithDbAsync(db => db.AuditEvents.AnyAsync(a => a.JobId == job.Id && a.Action == AuditActions.LicenceRefused && a.Channel == "worker")));
    }

    [Fact]
    public async Task Inputs_must_be_the_owners_and_of_the_kind_their_role_takes()
    {
        var ada = await host.CreateUserAsync("ada@example.com", accountType: AccountType.Commercial);
        var bob = await host.CreateUserAsync("bob@example.com", accountType: AccountType.Commercial);
        var picture = await UploadAsync(ada);
        var output = (await MadeAsync(ada, QueueHost.ModelId)).OutputImageId!.Value;
        var mask = (await host.Services.GetRequiredService<ImageStore>().SaveUploadAsync(ada.UserId, new MemoryStream(await File.ReadAllBytesAsync(await PathOfAsync(picture))), kind: StoredImageKind.Mask)).Id;

        Assert.Equal(ImageAccessOutcome.Allowed, (await Access.InputAsync(ada.UserId, picture, InputRole.Reference)).Outcome);
        Assert.Equal(ImageAccessOutcome.Allowed, (await Access.InputAsync(ada.UserId, output, InputRole.Source)).Outcome);
        Assert.Equal(ImageAccessOutcome.Allowed, (await Access.InputAsync(ada.UserId, mask, InputRole.Mask)).Outcome);
        Assert.Equal(ImageAccessOutcome.WrongKind, (await Access.InputAsync(ada.UserId, output, InputRole.Mask)).Outcome);
        Assert.Equal(ImageAccessOutcome.WrongKind, (await Access.InputAsync(ada.UserId, picture, InputRole.Mask)).Outcome);
        Assert.Equal(ImageAccessOutcome.WrongKind, (await Access.InputAsync(ada.UserId, mask, InputRole.Reference)).Outcome);
        Assert.Equal(ImageAccessOutcome.NotFound, (await Access.InputAsync(bob.UserId, picture, InputRole.Reference)).Outcome);
        Assert.Equal(ImageAccessOutcome.NotFound, (await Access.InputAsync(ada.UserId, Guid.NewGuid(), InputRole.Reference)).Outcome);

        var refused = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("an output as the mask").With(s => s with { SourceImageId = picture, MaskImageId = output }));
        Assert.False(refused.Accepted);
        Assert.Contains("not a mask", refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_job_rule_as_a_query_agrees_with_the_rule_for_one_job_on_every_shape_of_job()
    {
        var owner = await host.CreateUserAsync("owner@example.com", accountType: AccountType.Commercial);
        var rows = new GalleryRows(host.Services);
        var at = DateTime.UtcNow;
        var jobs = new List<Guid>
        {
            (await rows.AddOutputAsync(owner, "apache output", at, QueueHost.ModelId, commercialUse: true)).JobId!.Value,
            (await rows.AddOutputAsync(owner, "nc output", at, QueueHost.OtherModelId, commercialUse: false)).JobId!.Value,
            (await rows.AddOutputAsync(owner, "output without a licence flag", at, QueueHost.ModelId, commercialUse: null)).JobId!.Value,
            // The output's licence (copied when it was made) wins over the installed package's today.
            (await rows.AddOutputAsync(owner, "nc output of a model now apache", at, QueueHost.ModelId, commercialUse: false)).JobId!.Value,
            (await rows.AddOutputAsync(owner, "uninstalled model's output", at, "gone-model", commercialUse: true)).JobId!.Value,
        };
        foreach (var (model, state) in new[] { (QueueHost.ModelId, JobState.Failed), (QueueHost.OtherModelId, JobState.Failed), (QueueHost.OtherModelId, JobState.Queued), ("gone-model", JobState.Cancelled) })
        {
            jobs.Add((await rows.AddJobAsync(owner, $"{model} {state}", at, model, state)).Id);
        }

        foreach (var viewer in new[] { owner, owner with { IsAdmin = true } })
        {
            var filter = await Access.JobFilterAsync(viewer);
            await using var db = await host.Services.GetRequiredService<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();
            var listed = await filter.Apply(db.Jobs.Where(j => jobs.Contains(j.Id)), db).Select(j => j.Id).ToListAsync();
            foreach (var id in jobs)
            {
                var job = await db.Jobs.AsNoTracking().SingleAsync(j => j.Id == id);
                var output = await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == job.OutputImageId);
                var one = (await Access.JobAsync(viewer, id)).Allowed;
                Assert.True(one == listed.Contains(id), $"{job.Settings.Prompt}: the query {(listed.Contains(id) ? "lists" : "hides")} it, the single rule says {one}");
                Assert.Equal(one, filter.MayReceive(job, output));
            }
        }

        Assert.Equal(
            ["apache output", "klein-test Failed", "uninstalled model's output"],
            (await host.Jobs.ListMineAsync(owner, 50)).Select(j => j.Prompt).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task An_upload_is_traced_by_its_watermark_even_after_the_image_was_deleted()
    {
        var nico = await host.CreateUserAsync("nico@example.com", accountType: AccountType.NonCommercial);
        var job = await MadeAsync(nico, QueueHost.OtherModelId);
        var image = await host.WithDbAsync(db => db.Images.AsNoTracking().SingleAsync(i => i.Id == job.OutputImageId));
        var bytes = await File.ReadAllBytesAsync(await PathOfAsync(image.Id));
        var deleted = await host.Services.GetRequiredService<GalleryActions>().DeleteAsync(nico, image.Id, "ui");
        Assert.Equal(GalleryActionOutcome.Done, deleted.Outcome);
        // While the account may use the model, its own picture comes back in as an upload.
        Assert.NotEqual(Guid.Empty, await UploadAsync(nico, bytes));

        await SwitchAsync(nico, AccountType.Commercial);
        var refused = await Assert.ThrowsAsync<InvalidImageException>(() => UploadAsync(nico, bytes));

        Assert.Equal(InvalidImageException.LicenceRefused, refused.StatusCode);
        Assert.Contains("made here with klein-test-nc", refused.Message, StringComparison.Ordinal);
        var audit = await host.WithDbAsync(db => db.AuditEvents.AsNoTracking().SingleAsync(a => a.ActorId == nico.UserId && a.Action == AuditActions.LicenceRefused));
        Assert.Equal((job.Id, QueueHost.OtherModelId, "api"), (audit.JobId!.Value, audit.ModelId, audit.Channel));
        Assert.Contains($"serial {image.WatermarkSerial}", audit.Detail, StringComparison.Ordinal);
    }

    private async Task<string> PathOfAsync(Guid imageId)
    {
        var image = await host.WithDbAsync(db => db.Images.AsNoTracking().SingleAsync(i => i.Id == imageId));
        return host.Services.GetRequiredService<ImageStore>().FullPath(image.RelativePath);
    }
}
