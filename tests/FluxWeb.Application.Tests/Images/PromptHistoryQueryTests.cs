using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Jobs;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Application.Tests.Images;

/// <summary>Prompt history from the jobs table: one entry per prompt, newest use first, with uses, last model and the image to reuse.</summary>
public sealed class PromptHistoryQueryTests : IAsyncLifetime
{
    private static readonly DateTime T0 = new(2026, 11, 20, 9, 0, 0, DateTimeKind.Utc);

    private readonly TempFolder folder = new("fluxweb-history");
    private QueueHost host = default!;
    private GalleryRows rows = default!;
    private JobActor ada = default!;

    public async Task InitializeAsync()
    {
        host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), worker: false);
        rows = new GalleryRows(host.Services);
        ada = await host.CreateUserAsync("ada@example.com");
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private PromptHistoryQuery History => host.Services.GetRequiredService<PromptHistoryQuery>();

    [Fact]
    public async Task Deduplicates_by_prompt_newest_use_first_with_count_last_model_and_latest_image()
    {
        var bob = await host.CreateUserAsync("bob@example.com");
        var firstFox = await rows.AddOutputAsync(ada, "a red fox", T0);
        var latestFox = await rows.AddOutputAsync(ada, "a red fox", T0.AddHours(1));
        await rows.AddJobAsync(ada, "a red fox", T0.AddHours(3), model: QueueHost.OtherModelId, state: JobState.Failed);
        await rows.AddJobAsync(ada, "a lighthouse", T0.AddHours(2), state: JobState.Cancelled);
        await rows.AddOutputAsync(ada, "A red fox", T0.AddMinutes(30));
        await rows.AddOutputAsync(bob, "bob's prompt", T0.AddHours(5));

        var page = await History.ListAsync(ada, null);

        Assert.Equal(3, page.Total);
        Assert.Equal(["a red fox", "a lighthouse", "A red fox"], page.Entries.Select(e => e.Prompt));
        var fox = page.Entries[0];
        Assert.Equal((T0.AddHours(3), 3, QueueHost.OtherModelId, (Guid?)latestFox.Id), (fox.LastUsedUtc, fox.Uses, fox.LastModelId, fox.LatestImageId));
        Assert.NotEqual(firstFox.Id, fox.LatestImageId);
        Assert.Null(page.Entries[1].LatestImageId);
    }

    [Fact]
    public async Task Searches_and_pages()
    {
        for (var i = 0; i < 7; i++)
        {
            await rows.AddJobAsync(ada, $"castle number {i}", T0.AddMinutes(i));
        }

        await rows.AddJobAsync(ada, "a quiet harbour", T0.AddHours(1));

        var castles = await History.ListAsync(ada, "CASTLE", page: 0, pageSize: 3);
        var second = await History.ListAsync(ada, "castle", page: 1, pageSize: 3);
        var last = await History.ListAsync(ada, "castle", page: 2, pageSize: 3);

        Assert.Equal(7, castles.Total);
        Assert.Equal(["castle number 6", "castle number 5", "castle number 4"], castles.Entries.Select(e => e.Prompt));
        Assert.Equal(["castle number 3", "castle number 2", "castle number 1"], second.Entries.Select(e => e.Prompt));
        Assert.Equal(["castle number 0"], last.Entries.Select(e => e.Prompt));
        Assert.Equal(["a quiet harbour"], (await History.ListAsync(ada, "harbour")).Entries.Select(e => e.Prompt));
        Assert.Empty((await History.ListAsync(ada, "castle", page: 5, pageSize: 3)).Entries);
    }

    [Fact]
    public async Task A_commercial_account_is_not_offered_a_non_commercial_image_to_reuse_nor_a_deleted_one()
    {
        var corp = await host.CreateUserAsync("corp@example.com", accountType: AccountType.Commercial);
        var commercial = await rows.AddOutputAsync(corp, "a glass teapot", T0);
        await rows.AddOutputAsync(corp, "a glass teapot", T0.AddHours(1), model: QueueHost.OtherModelId, commercialUse: false);
        await rows.AddOutputAsync(corp, "only non-commercial", T0.AddHours(2), model: QueueHost.OtherModelId, commercialUse: false);
        var deleted = await rows.AddOutputAsync(corp, "deleted", T0.AddHours(3));
        await host.WithDbAsync(db => db.Images.Where(i => i.Id == deleted.Id).ExecuteDeleteAsync());

        var page = await History.ListAsync(corp, null);

        Assert.Equal(["deleted", "only non-commercial", "a glass teapot"], page.Entries.Select(e => e.Prompt));
        Assert.Null(page.Entries[0].LatestImageId);
        Assert.Null(page.Entries[1].LatestImageId);
        Assert.Equal(commercial.Id, page.Entries[2].LatestImageId);
        Assert.Equal(2, page.Entries[2].Uses);
    }
}
