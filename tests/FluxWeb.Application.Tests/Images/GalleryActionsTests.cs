using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Jobs;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp;

namespace FluxWeb.Application.Tests.Images;

/// <summary>Favourites, deletion and thumbnails against real files in the image store.</summary>
public sealed class GalleryActionsTests : IAsyncLifetime
{
    private static readonly DateTime T0 = new(2026, 11, 20, 9, 0, 0, DateTimeKind.Utc);

    private readonly TempFolder folder = new("fluxweb-gallery-actions");
    private QueueHost host = default!;
    private GalleryRows rows = default!;
    private JobActor ada = default!;
    private JobActor bob = default!;
    private JobActor admin = default!;

    public async Task InitializeAsync()
    {
        host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), worker: false);
        rows = new GalleryRows(host.Services);
        ada = await host.CreateUserAsync("ada@example.com");
        bob = await host.CreateUserAsync("bob@example.com");
        admin = await host.CreateUserAsync("admin@example.com", Roles.Admin, AccountType.Commercial);
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private GalleryActions Actions => host.Services.GetRequiredService<GalleryActions>();

    private ImageStore Store => host.Services.GetRequiredService<ImageStore>();

    [Fact]
    public async Task Only_the_owner_sets_a_favourite()
    {
        var image = await rows.AddOutputAsync(ada, "mine", T0);

        Assert.Equal(GalleryActionOutcome.NotFound, (await Actions.SetFavouriteAsync(bob, image.Id, true)).Outcome);
        Assert.Equal(GalleryActionOutcome.NotFound, (await Actions.SetFavouriteAsync(admin, image.Id, true)).Outcome);
        Assert.False(await host.WithDbAsync(db => db.Images.Where(i => i.Id == image.Id).Select(i => i.Favourite).SingleAsync()));

        Assert.Equal(GalleryActionOutcome.Done, (await Actions.SetFavouriteAsync(ada, image.Id, true)).Outcome);
        Assert.True(await host.WithDbAsync(db => db.Images.Where(i => i.Id == image.Id).Select(i => i.Favourite).SingleAsync()));
        Assert.Equal(GalleryActionOutcome.Done, (await Actions.SetFavouriteAsync(ada, image.Id, false)).Outcome);
        Assert.False(await host.WithDbAsync(db => db.Images.Where(i => i.Id == image.Id).Select(i => i.Favourite).SingleAsync()));
    }

    [Fact]
    public async Task Deleting_removes_row_file_and_thumbnail_keeps_the_job_and_is_audited()
    {
        var image = await rows.AddOutputAsync(ada, "to delete", T0, withFile: true);
        var file = (await Store.FindAsync(ada, image.Id))!;
        var thumbnail = await host.Services.GetRequiredService<ThumbnailStore>().GetAsync(file);
        Assert.True(File.Exists(file.FullPath));
        Assert.True(File.Exists(thumbnail.FullPath));

        Assert.Equal(GalleryActionOutcome.NotFound, (await Actions.DeleteAsync(bob, image.Id, "ui")).Outcome);
        Assert.True(File.Exists(file.FullPath));

        Assert.Equal(GalleryActionOutcome.Done, (await Actions.DeleteAsync(ada, image.Id, "ui")).Outcome);

        Assert.False(File.Exists(file.FullPath));
        Assert.False(File.Exists(thumbnail.FullPath));
        Assert.False(await host.WithDbAsync(db => db.Images.AnyAsync(i => i.Id == image.Id)));
        var job = await host.JobAsync(image.JobId!.Value);
        Assert.Equal((JobState.Succeeded, (Guid?)null, "to delete"), (job.State, job.OutputImageId, job.Settings.Prompt));
        var audit = await host.WithDbAsync(db => db.AuditEvents.SingleAsync(a => a.Action == AuditActions.Delete));
        Assert.Equal((ada.UserId, "ada@example.com", (Guid?)image.Id, image.JobId, ada.UserId, "ui"), (audit.ActorId, audit.ActorEmail, audit.ImageId, audit.JobId, audit.TargetUserId, audit.Channel));
        Assert.Contains("watermark serial 42", audit.Detail, StringComparison.Ordinal);
        Assert.Equal(GalleryActionOutcome.NotFound, (await Actions.DeleteAsync(ada, image.Id, "ui")).Outcome);
    }

    [Fact]
    public async Task An_admin_deletes_anyones_image_and_the_audit_names_the_owner()
    {
        var image = await rows.AddOutputAsync(ada, "reported", T0, withFile: true);

        Assert.Equal(GalleryActionOutcome.Done, (await Actions.DeleteAsync(admin, image.Id, "api")).Outcome);

        var audit = await host.WithDbAsync(db => db.AuditEvents.SingleAsync(a => a.Action == AuditActions.Delete));
        Assert.Equal((admin.UserId, ada.UserId, "api"), (audit.ActorId, audit.TargetUserId, audit.Channel));
    }

    [Fact]
    public async Task An_image_a_waiting_job_still_needs_is_not_deleted()
    {
        var reference = await rows.AddOutputAsync(ada, "reference", T0, withFile: true);
        var waiting = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("uses it").With(s => s with { ReferenceImageIds = [reference.Id] }));
        Assert.True(waiting.Accepted, waiting.Error);

        var refused = await Actions.DeleteAsync(ada, reference.Id, "ui");

        Assert.Equal(GalleryActionOutcome.InUse, refused.Outcome);
        Assert.True(await host.WithDbAsync(db => db.Images.AnyAsync(i => i.Id == reference.Id)));
        await host.Jobs.CancelAsync(ada, waiting.JobIds.Single());
        Assert.Equal(GalleryActionOutcome.Done, (await Actions.DeleteAsync(ada, reference.Id, "ui")).Outcome);
    }

    [Fact]
    public async Task A_commercial_account_cannot_favourite_or_delete_its_kept_non_commercial_outputs()
    {
        var corp = await host.CreateUserAsync("corp@example.com", accountType: AccountType.Commercial);
        var kept = await rows.AddOutputAsync(corp, "from before the switch", T0, model: QueueHost.OtherModelId, commercialUse: false, withFile: true);

        var favourite = await Actions.SetFavouriteAsync(corp, kept.Id, true);
        var delete = await Actions.DeleteAsync(corp, kept.Id, "ui");

        Assert.Equal(GalleryActionOutcome.LicenceRefused, favourite.Outcome);
        Assert.Equal(GalleryActionOutcome.LicenceRefused, delete.Outcome);
        Assert.Contains("FLUX-Non-Commercial", delete.Reason, StringComparison.Ordinal);
        Assert.True(File.Exists((await Store.FindAsync(corp, kept.Id))!.FullPath));
        // Kept for the administrators, who may remove it.
        Assert.Equal(GalleryActionOutcome.Done, (await Actions.DeleteAsync(admin, kept.Id, "ui")).Outcome);
    }

    [Fact]
    public async Task Thumbnails_are_small_webp_made_once_and_small_originals_keep_their_size()
    {
        var large = await rows.AddOutputAsync(ada, "large", T0, withFile: true, width: 1024, height: 512);
        var small = await rows.AddOutputAsync(ada, "small", T0, withFile: true, width: 128, height: 64);
        var thumbnails = host.Services.GetRequiredService<ThumbnailStore>();
        var largeFile = (await Store.FindAsync(ada, large.Id))!;

        var started = System.Diagnostics.Stopwatch.StartNew();
        var first = await thumbnails.GetAsync(largeFile);
        var made = started.Elapsed;
        var written = File.GetLastWriteTimeUtc(first.FullPath);
        started.Restart();
        var second = await thumbnails.GetAsync(largeFile);
        Console.WriteLine($"thumbnail of 1024×512: made in {made.TotalMilliseconds:F1} ms, served from disk in {started.Elapsed.TotalMilliseconds:F1} ms, {first.Length} bytes");

        Assert.Equal(first.FullPath, second.FullPath);
        Assert.Equal(written, File.GetLastWriteTimeUtc(second.FullPath));
        Assert.Equal("image/webp", first.ContentType);
        Assert.Equal(Path.GetDirectoryName(largeFile.FullPath), Path.GetDirectoryName(first.FullPath));
        Assert.Equal($"\"{largeFile.Image.Sha256}-t320\"", first.ETag);
        var info = Image.Identify(first.FullPath);
        Assert.Equal((320, 160, "WEBP"), (info.Width, info.Height, Image.DetectFormat(first.FullPath).Name.ToUpperInvariant()));
        var smallInfo = Image.Identify((await thumbnails.GetAsync((await Store.FindAsync(ada, small.Id))!)).FullPath);
        Assert.Equal((128, 64), (smallInfo.Width, smallInfo.Height));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(first.FullPath)!, "*.partial"));
    }
}
