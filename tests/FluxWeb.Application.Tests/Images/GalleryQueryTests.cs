using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Images;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Application.Tests.Images;

/// <summary>The gallery's query on a real database (SQLite, and PostgreSQL in the subclass): order, keyset paging, search, each filter and the licence rule.</summary>
public class GalleryQueryTests : IAsyncLifetime
{
    /// <summary>The database these scenarios run on; a subclass runs them all again on the other.</summary>
    protected virtual TestDatabaseProvider Database => TestDatabaseProvider.Sqlite;

    private static readonly DateTime T0 = new(2026, 11, 20, 9, 0, 0, DateTimeKind.Utc);

    private readonly TempFolder folder = new("fluxweb-gallery");
    private QueueHost host = default!;
    private GalleryRows rows = default!;
    private JobActor ada = default!;

    public async Task InitializeAsync()
    {
        host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), worker: false, database: Database);
        rows = new GalleryRows(host.Services);
        ada = await host.CreateUserAsync("ada@example.com", accountType: AccountType.NonCommercial);
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private GalleryQuery Query => host.Services.GetRequiredService<GalleryQuery>();

    private async Task<List<GalleryItem>> AllPagesAsync(JobActor viewer, GalleryFilter filter, int pageSize)
    {
        var all = new List<GalleryItem>();
        string? cursor = null;
        do
        {
            var page = await Query.ListAsync(viewer, filter, cursor, pageSize);
            Assert.True(page.Items.Count <= pageSize);
            all.AddRange(page.Items);
            cursor = page.NextCursor;
        }
        while (cursor is not null);
        return all;
    }

    [Fact]
    public async Task Lists_only_the_owners_outputs_newest_first()
    {
        var bob = await host.CreateUserAsync("bob@example.com");
        var old = await rows.AddOutputAsync(ada, "old", T0);
        var newest = await rows.AddOutputAsync(ada, "newest", T0.AddHours(2));
        var middle = await rows.AddOutputAsync(ada, "middle", T0.AddHours(1));
        await rows.AddOutputAsync(bob, "bob's", T0.AddHours(3));
        await host.WithDbAsync(async db =>
        {
            // An upload (a reference image) is an input, not a gallery image.
            db.Images.Add(new StoredImage { OwnerId = ada.UserId, Kind = StoredImageKind.Upload, RelativePath = "images/u.png", ContentType = "image/png", Sha256 = "b", CreatedUtc = T0.AddHours(5) });
            return await db.SaveChangesAsync();
        });

        var page = await Query.ListAsync(ada, new GalleryFilter());

        Assert.Equal([newest.Id, middle.Id, old.Id], page.Items.Select(i => i.Id));
        Assert.Null(page.NextCursor);
        Assert.Equal(0, page.HiddenByLicence);
        Assert.Equal($"/api/v1/images/{newest.Id}/thumbnail", page.Items[0].ThumbnailUrl);
        Assert.Equal($"/api/v1/images/{newest.Id}?download=true", page.Items[0].DownloadUrl);
    }

    [Fact]
    public async Task Pages_by_key_without_gaps_or_duplicates_even_with_equal_times_and_while_images_come_and_go()
    {
        var made = new List<StoredImage>();
        for (var i = 0; i < 23; i++)
        {
            // Groups of three share a timestamp, so the id must break ties consistently.
            made.Add(await rows.AddOutputAsync(ada, $"image {i}", T0.AddMinutes(i / 3)));
        }

        var listed = await AllPagesAsync(ada, new GalleryFilter(), pageSize: 5);

        Assert.Equal(made.Count, listed.Count);
        Assert.Equal(made.Select(m => m.Id).Order(), listed.Select(l => l.Id).Order());
        Assert.True(listed.Zip(listed.Skip(1)).All(p => p.First.CreatedUtc >= p.Second.CreatedUtc), "Not newest first.");

        // Scrolling while a new image arrives and an unseen one is deleted: the rest still comes exactly once.
        var first = await Query.ListAsync(ada, new GalleryFilter(), null, 5);
        await rows.AddOutputAsync(ada, "arrived while scrolling", T0.AddDays(1));
        var deleted = listed[12].Id;
        await host.WithDbAsync(db => db.Images.Where(i => i.Id == deleted).ExecuteDeleteAsync());
        var rest = new List<GalleryItem>(first.Items);
        var cursor = first.NextCursor;
        while (cursor is not null)
        {
            var page = await Query.ListAsync(ada, new GalleryFilter(), cursor, 5);
            rest.AddRange(page.Items);
            cursor = page.NextCursor;
        }

        Assert.Equal(listed.Where(l => l.Id != deleted).Select(l => l.Id), rest.Select(r => r.Id));
    }

    [Fact]
    public async Task Searches_the_prompt_ignoring_case_and_treating_wildcards_as_text()
    {
        var lighthouse = await rows.AddOutputAsync(ada, "A Lighthouse at dusk", T0);
        var percent = await rows.AddOutputAsync(ada, "100% cotton_shirt", T0.AddMinutes(1));
        await rows.AddOutputAsync(ada, "a red fox", T0.AddMinutes(2));
        await rows.AddOutputAsync(ada, "1000 cotton shirts", T0.AddMinutes(3));

        Assert.Equal([lighthouse.Id], (await Query.ListAsync(ada, new GalleryFilter { Search = "  lighthouse AT  " })).Items.Select(i => i.Id));
        Assert.Equal([percent.Id], (await Query.ListAsync(ada, new GalleryFilter { Search = "0% cotton_" })).Items.Select(i => i.Id));
        Assert.Empty((await Query.ListAsync(ada, new GalleryFilter { Search = "zebra" })).Items);
        Assert.Equal(4, (await Query.ListAsync(ada, new GalleryFilter { Search = "   " })).Items.Count);
    }

    [Fact]
    public async Task Filters_by_model_date_range_and_favourites_and_combines_them()
    {
        var early = await rows.AddOutputAsync(ada, "early", T0, favourite: true);
        var onStart = await rows.AddOutputAsync(ada, "on start", T0.AddDays(1));
        var otherModel = await rows.AddOutputAsync(ada, "other model", T0.AddDays(1).AddHours(5), model: QueueHost.OtherModelId, commercialUse: false, favourite: true);
        var onEnd = await rows.AddOutputAsync(ada, "on end", T0.AddDays(2), favourite: true);

        async Task<IEnumerable<Guid>> IdsAsync(GalleryFilter filter) => (await Query.ListAsync(ada, filter)).Items.Select(i => i.Id);

        Assert.Equal([otherModel.Id], await IdsAsync(new GalleryFilter { ModelId = QueueHost.OtherModelId }));
        Assert.Equal([onEnd.Id, onStart.Id, early.Id], await IdsAsync(new GalleryFilter { ModelId = QueueHost.ModelId }));
        // From is inclusive, To exclusive.
        Assert.Equal([otherModel.Id, onStart.Id], await IdsAsync(new GalleryFilter { FromUtc = T0.AddDays(1), ToUtc = T0.AddDays(2) }));
        Assert.Equal([onEnd.Id, otherModel.Id, onStart.Id], await IdsAsync(new GalleryFilter { FromUtc = T0.AddDays(1) }));
        Assert.Equal([early.Id], await IdsAsync(new GalleryFilter { ToUtc = T0.AddDays(1) }));
        Assert.Equal([onEnd.Id, otherModel.Id, early.Id], await IdsAsync(new GalleryFilter { FavouritesOnly = true }));
        Assert.Equal([onEnd.Id, early.Id], await IdsAsync(new GalleryFilter { FavouritesOnly = true, ModelId = QueueHost.ModelId }));
        Assert.Equal([otherModel.Id], await IdsAsync(new GalleryFilter { FavouritesOnly = true, FromUtc = T0.AddDays(1), ToUtc = T0.AddDays(2), Search = "MODEL" }));
        Assert.True((await Query.ListAsync(ada, new GalleryFilter { FavouritesOnly = true })).Items.All(i => i.Favourite));
        Assert.Equal([QueueHost.ModelId, QueueHost.OtherModelId], await Query.ModelsAsync(ada));
    }

    [Fact]
    public async Task A_commercial_account_never_sees_non_commercial_outputs_but_learns_how_many_are_hidden()
    {
        var corp = await host.CreateUserAsync("corp@example.com", accountType: AccountType.Commercial);
        var allowed = await rows.AddOutputAsync(corp, "commercial cat", T0);
        await rows.AddOutputAsync(corp, "nc cat", T0.AddMinutes(1), model: QueueHost.OtherModelId, commercialUse: false);
        await rows.AddOutputAsync(corp, "nc dog", T0.AddMinutes(2), model: QueueHost.OtherModelId, commercialUse: false, favourite: true);
        // No licence recorded: the licence gate treats it as non-commercial, so the listing does too.
        await rows.AddOutputAsync(corp, "unknown licence cat", T0.AddMinutes(3), model: "old-model", commercialUse: null);

        var page = await Query.ListAsync(corp, new GalleryFilter());
        var cats = await Query.ListAsync(corp, new GalleryFilter { Search = "cat" });
        var favourites = await Query.ListAsync(corp, new GalleryFilter { FavouritesOnly = true });

        Assert.Equal([allowed.Id], page.Items.Select(i => i.Id));
        Assert.Equal(AccountType.Commercial, page.AccountType);
        Assert.Equal(3, page.HiddenByLicence);
        Assert.Equal(2, cats.HiddenByLicence);
        Assert.Empty(favourites.Items);
        Assert.Equal(1, favourites.HiddenByLicence);
        Assert.Equal([QueueHost.ModelId], await Query.ModelsAsync(corp));

        // The same images for a non-commercial account (after an admin changed it back): all listed, nothing hidden.
        await host.WithDbAsync(db => db.Users.Where(u => u.Id == corp.UserId).ExecuteUpdateAsync(s => s.SetProperty(u => u.AccountType, AccountType.NonCommercial)));
        var asNonCommercial = await Query.ListAsync(corp, new GalleryFilter());
        Assert.Equal(4, asNonCommercial.Items.Count);
        Assert.Equal(0, asNonCommercial.HiddenByLicence);
        Assert.Equal(3, asNonCommercial.Items.Count(i => i.NonCommercialModel));
        Assert.DoesNotContain(asNonCommercial.Items, i => i.ShownOnlyAsAdmin);
    }

    [Fact]
    public async Task An_admin_with_a_commercial_account_sees_non_commercial_outputs_marked()
    {
        var admin = await host.CreateUserAsync("admin@example.com", Roles.Admin, AccountType.Commercial);
        var commercial = await rows.AddOutputAsync(admin, "fine", T0);
        var nonCommercial = await rows.AddOutputAsync(admin, "marked", T0.AddMinutes(1), model: QueueHost.OtherModelId, commercialUse: false);

        var page = await Query.ListAsync(admin, new GalleryFilter());

        Assert.Equal([nonCommercial.Id, commercial.Id], page.Items.Select(i => i.Id));
        Assert.Equal(0, page.HiddenByLicence);
        Assert.True(page.Items[0].NonCommercialModel);
        Assert.True(page.Items[0].ShownOnlyAsAdmin);
        Assert.False(page.Items[1].NonCommercialModel);
        Assert.False(page.Items[1].ShownOnlyAsAdmin);
        Assert.True((await Query.DetailAsync(admin, nonCommercial.Id)).Detail!.Image.ShownOnlyAsAdmin);
    }

    [Fact]
    public async Task Detail_shows_every_parameter_and_the_timing_to_the_owner_and_admins_only()
    {
        var bob = await host.CreateUserAsync("bob@example.com");
        var admin = await host.CreateUserAsync("admin@example.com", Roles.Admin, AccountType.Commercial);
        var reference = await rows.AddOutputAsync(ada, "reference", T0);
        var ncReference = await rows.AddOutputAsync(ada, "nc reference", T0.AddMinutes(1), model: QueueHost.OtherModelId, commercialUse: false);
        var gone = Guid.NewGuid();
        var image = await rows.AddOutputAsync(ada, "edited", T0.AddMinutes(5), job: j =>
        {
            j.Mode = Domain.Jobs.JobMode.MultiReference;
            j.Settings = j.Settings with { Guidance = 3.5f, NegativePrompt = "fog", Strength = 0.6f, Seed = ulong.MaxValue, ReferenceImageIds = [reference.Id, ncReference.Id, gone] };
            j.ResolvedSteps = 28;
        });

        var detail = (await Query.DetailAsync(ada, image.Id)).Detail!;

        Assert.Equal(("edited", "fog"), (detail.Image.Prompt, detail.Job!.Settings.NegativePrompt));
        Assert.Equal((Domain.Jobs.JobMode.MultiReference, 28, (float?)3.5f, 0.6f, ulong.MaxValue), (detail.Job!.Mode, detail.Job.Steps, detail.Job.Settings.Guidance, detail.Job.Settings.Strength, detail.Job.Settings.Seed!.Value));
        Assert.Equal((T0.AddMinutes(5).AddSeconds(-3), T0.AddMinutes(5).AddSeconds(-2), T0.AddMinutes(5), 1.5), (detail.Job.EnqueuedUtc, detail.Job.StartedUtc!.Value, detail.Job.FinishedUtc!.Value, detail.Job.GpuSeconds));
        Assert.Equal(("Apache-2.0", (long?)42, "Allowed"), (detail.Image.LicenceId, detail.WatermarkSerial, detail.Image.SafetyVerdict));
        Assert.Null(detail.OwnerEmail);
        Assert.Equal(["Reference 1", "Reference 2", "Reference 3"], detail.Inputs.Select(i => i.Role));
        Assert.Equal($"/api/v1/images/{reference.Id}/thumbnail", detail.Inputs[0].ThumbnailUrl);
        Assert.True(detail.Inputs[1].Available);
        Assert.Equal("deleted", detail.Inputs[2].Note);

        Assert.False((await Query.DetailAsync(bob, image.Id)).Found);
        Assert.False((await Query.DetailAsync(ada, Guid.NewGuid())).Found);
        var asAdmin = (await Query.DetailAsync(admin, image.Id)).Detail!;
        Assert.Equal("ada@example.com", asAdmin.OwnerEmail);

        // After an admin makes Ada's account commercial: the non-commercial output is refused, and shows as hidden where it was a reference.
        await host.WithDbAsync(db => db.Users.Where(u => u.Id == ada.UserId).ExecuteUpdateAsync(s => s.SetProperty(u => u.AccountType, AccountType.Commercial)));
        var refused = await Query.DetailAsync(ada, ncReference.Id);
        Assert.Null(refused.Detail);
        Assert.Contains("licensed for commercial use", refused.LicenceRefusal, StringComparison.Ordinal);
        var after = (await Query.DetailAsync(ada, image.Id)).Detail!;
        Assert.False(after.Inputs[1].Available);
        Assert.StartsWith("hidden", after.Inputs[1].Note, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_real_queue_output_is_listed_with_its_licence()
    {
        await using var running = await QueueHost.StartAsync(folder.Combine("queue"), new FakeImageGenerator(), database: Database);
        var user = await running.CreateUserAsync("artist@example.com");
        var job = await running.WaitForEndAsync((await running.Generation.SubmitAsync(user.UserId, QueueHost.Request("made by the queue", model: QueueHost.OtherModelId))).JobIds.Single());

        var page = await running.Services.GetRequiredService<GalleryQuery>().ListAsync(user, new GalleryFilter());

        var item = Assert.Single(page.Items);
        Assert.Equal((job.OutputImageId, "made by the queue", QueueHost.OtherModelId, (bool?)false, true), (item.Id, item.Prompt, item.ModelId, item.CommercialUse, item.NonCommercialModel));
    }

    [Fact]
    public void Cursors_round_trip_and_garbage_is_ignored()
    {
        var cursor = new GalleryCursor(T0.AddTicks(1234567), Guid.NewGuid());

        Assert.True(GalleryCursor.TryParse(cursor.ToString(), out var parsed));
        Assert.Equal(cursor, parsed);
        Assert.False(GalleryCursor.TryParse("not-a-cursor", out _));
        Assert.False(GalleryCursor.TryParse("99999999999999999999-" + Guid.NewGuid().ToString("N"), out _));
        Assert.False(GalleryCursor.TryParse(null, out _));
    }
}

/// <summary>The same scenarios on PostgreSQL, the database several processes share.</summary>
public sealed class GalleryQueryTestsOnPostgreSql : GalleryQueryTests
{
    protected override TestDatabaseProvider Database => TestDatabaseProvider.PostgreSql;
}
