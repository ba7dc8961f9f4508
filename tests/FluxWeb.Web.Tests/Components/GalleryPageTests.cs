using System.Security.Claims;
using Bunit;
using Bunit.Rendering;
using FluxWeb.Application.Boards;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Boards;
using FluxWeb.Host.Components.Pages.Gallery;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using MudBlazor.Services;
using GalleryPage = FluxWeb.Host.Components.Pages.Gallery.Gallery;
using HistoryPage = FluxWeb.Host.Components.Pages.History.History;

namespace FluxWeb.Web.Tests.Components;

/// <summary>The Gallery and History pages on the real gallery services (SQLite, rows written directly).</summary>
public sealed class GalleryPageTests : IAsyncLifetime
{
    private static readonly DateTime T0 = new(2026, 11, 20, 9, 0, 0, DateTimeKind.Utc);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    private readonly TempFolder folder = new("fluxweb-gallery-page");
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

    private BunitContext NewContext(JobActor? user = null, string email = "ada@example.com")
    {
        var ctx = new BunitContext();
        var auth = ctx.AddTestServices(host.Services);
        auth.SetAuthorized(email);
        auth.SetClaims(new Claim(ClaimTypes.NameIdentifier, (user ?? ada).UserId));
        return ctx;
    }

    /// <summary>The page with MudBlazor's popover and dialog hosts beside it, as the layout has them.</summary>
    private static IRenderedComponent<ContainerFragment> RenderWithProviders<TPage>(BunitContext ctx, string url)
        where TPage : IComponent
    {
        ctx.Services.GetRequiredService<NavigationManager>().NavigateTo(url);
        return ctx.Render(builder =>
        {
            builder.OpenComponent<MudPopoverProvider>(0);
            builder.CloseComponent();
            builder.OpenComponent<MudDialogProvider>(1);
            builder.CloseComponent();
            builder.OpenComponent<TPage>(2);
            builder.CloseComponent();
        });
    }

    private static List<string> ShownPrompts(IRenderedComponent<ContainerFragment> cut) =>
        [.. cut.FindAll("[data-testid=gallery-item] .fw-tile-caption").Select(c => c.TextContent)];

    private static string Path(BunitContext ctx) => new Uri(ctx.Services.GetRequiredService<NavigationManager>().Uri).PathAndQuery;

    private Task<bool> FavouriteInDbAsync(Guid id) => host.WithDbAsync(db => db.Images.Where(i => i.Id == id).Select(i => i.Favourite).SingleAsync());

    [Fact]
    public async Task Shows_the_users_images_newest_first_as_thumbnail_urls()
    {
        var older = await rows.AddOutputAsync(ada, "a misty forest", T0);
        var newer = await rows.AddOutputAsync(ada, "a quiet harbour", T0.AddHours(1));
        await rows.AddOutputAsync(await host.CreateUserAsync("bob@example.com"), "bob's secret", T0.AddHours(2));
        await using var ctx = NewContext();

        var cut = RenderWithProviders<GalleryPage>(ctx, "/gallery");

        cut.WaitForAssertion(() => Assert.Equal(["a quiet harbour", "a misty forest"], ShownPrompts(cut)), Wait);
        Assert.Equal([$"/api/v1/images/{newer.Id}/thumbnail", $"/api/v1/images/{older.Id}/thumbnail"], cut.FindAll("[data-testid=gallery-item] img").Select(i => i.GetAttribute("src")));
        Assert.Equal($"/api/v1/images/{newer.Id}?download=true", cut.Find("[data-testid=gallery-download]").GetAttribute("href"));
        Assert.NotNull(cut.Find("[data-testid=gallery-download]").GetAttribute("download"));
        Assert.DoesNotContain("bob's secret", cut.Markup, StringComparison.Ordinal);
        Assert.Contains("2 images", cut.Find("[data-testid=gallery-end]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Shift_click_selects_a_range_and_select_all_favourites_every_image_of_the_filter_loaded_or_not()
    {
        var images = new List<Guid>();
        for (var i = 0; i < GalleryPage.PageSize + 3; i++)
        {
            images.Add((await rows.AddOutputAsync(ada, $"selectable lake {i:D2}", T0.AddMinutes(i))).Id);
        }

        var other = await rows.AddOutputAsync(ada, "a mountain not in the filter", T0.AddDays(1));
        await using var ctx = NewContext();
        var cut = RenderWithProviders<GalleryPage>(ctx, "/gallery?q=selectable");
        cut.WaitForAssertion(() => Assert.Equal(GalleryPage.PageSize, cut.FindAll("[data-testid=gallery-item]").Count), Wait);

        // Newest first: a click on the first box, a shift-click on the fourth: four selected.
        await cut.FindAll("[data-testid=gallery-select]")[0].ClickAsync(new MouseEventArgs());
        await cut.FindAll("[data-testid=gallery-select]")[3].ClickAsync(new MouseEventArgs { ShiftKey = true });
        cut.WaitForAssertion(() => Assert.Equal("4 images selected", cut.Find("[data-testid=selection-count]").TextContent), Wait);
        Assert.Equal(4, cut.FindAll(".fw-tile-selected").Count);
        await cut.Find("[data-testid=selection-favourite]").ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Equal(4, cut.FindAll("[data-testid=gallery-favourite][aria-pressed=true]").Count), Wait);
        Assert.True(await FavouriteInDbAsync(images[^1]));
        Assert.True(await FavouriteInDbAsync(images[^4]));
        Assert.False(await FavouriteInDbAsync(images[^5]));

        // "Select all in this view" takes the filter's images beyond the loaded page, and nothing outside the filter.
        await cut.Find("[data-testid=selection-all]").ClickAsync(new MouseEventArgs());
        await cut.Find("[data-testid=selection-favourite]").ClickAsync(new MouseEventArgs());
        await Eventually.Until(async () => await host.WithDbAsync(db => db.Images.CountAsync(i => i.OwnerId == ada.UserId && i.Favourite)) == images.Count, "Not every image of the filter became a favourite.");
        Assert.False(await FavouriteInDbAsync(other.Id));
    }

    [Fact]
    public async Task The_empty_gallery_says_it_holds_your_own_images_and_shows_an_administrator_where_everyones_are()
    {
        await using (var ctx = NewContext())
        {
            var user = RenderWithProviders<GalleryPage>(ctx, "/gallery");
            user.WaitForAssertion(() => Assert.Contains("your own only", user.Find("[data-testid=gallery-empty-about]").TextContent, StringComparison.Ordinal), Wait);
            Assert.DoesNotContain("administrators", user.Find("[data-testid=gallery-empty]").TextContent, StringComparison.OrdinalIgnoreCase);
            Assert.Empty(user.FindAll("[data-testid=gallery-empty-admin]"));
        }

        var admin = await host.CreateUserAsync("root@example.com", Roles.Admin);
        await using var adminCtx = new BunitContext();
        var auth = adminCtx.AddTestServices(host.Services);
        auth.SetAuthorized("root@example.com");
        auth.SetRoles(Roles.Admin);
        auth.SetClaims(new Claim(ClaimTypes.NameIdentifier, admin.UserId));
        var page = RenderWithProviders<GalleryPage>(adminCtx, "/gallery");
        page.WaitForAssertion(() => Assert.Equal("admin/images", page.Find("[data-testid=gallery-empty-admin] a").GetAttribute("href")), Wait);
    }

    [Fact]
    public async Task The_detail_dialog_steps_through_the_grids_order_with_the_arrow_keys_and_buttons()
    {
        await rows.AddOutputAsync(ada, "step one", T0);
        await rows.AddOutputAsync(ada, "step two", T0.AddMinutes(1));
        await rows.AddOutputAsync(ada, "step three", T0.AddMinutes(2));
        await rows.AddOutputAsync(ada, "not in the filter", T0.AddMinutes(3));
        await using var ctx = NewContext();
        var cut = RenderWithProviders<GalleryPage>(ctx, "/gallery?q=step");
        cut.WaitForAssertion(() => Assert.Equal(["step three", "step two", "step one"], ShownPrompts(cut)), Wait);

        await cut.FindAll("[data-testid=gallery-open]")[1].ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Contains("step two", cut.Find(".fw-detail-dialog").TextContent, StringComparison.Ordinal), Wait);
        Assert.Equal("2 of 3", cut.Find("[data-testid=detail-position]").TextContent);

        await cut.Find("[data-testid=detail-keys]").KeyDownAsync(new KeyboardEventArgs { Key = "ArrowRight" });
        cut.WaitForAssertion(() => Assert.Contains("step one", cut.Find(".fw-detail-dialog").TextContent, StringComparison.Ordinal), Wait);
        Assert.True(cut.Find("[data-testid=detail-next]").HasAttribute("disabled"));
        await cut.Find("[data-testid=detail-previous]").ClickAsync(new MouseEventArgs());
        await cut.Find("[data-testid=detail-keys]").KeyDownAsync(new KeyboardEventArgs { Key = "ArrowLeft" });
        cut.WaitForAssertion(() => Assert.Contains("step three", cut.Find(".fw-detail-dialog").TextContent, StringComparison.Ordinal), Wait);
        Assert.Equal("1 of 3", cut.Find("[data-testid=detail-position]").TextContent);
        Assert.DoesNotContain("not in the filter", cut.Find(".fw-detail-dialog").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Group_by_batch_shows_each_submissions_images_under_one_heading()
    {
        var batch = Guid.NewGuid();
        await rows.AddOutputAsync(ada, "batch lake", T0, job: j => j.BatchId = batch);
        await rows.AddOutputAsync(ada, "batch lake", T0.AddSeconds(5), job: j => j.BatchId = batch);
        await rows.AddOutputAsync(ada, "single fox", T0.AddMinutes(5));
        await using var ctx = NewContext();
        var cut = RenderWithProviders<GalleryPage>(ctx, "/gallery");
        cut.WaitForAssertion(() => Assert.Equal(3, cut.FindAll("[data-testid=gallery-item]").Count), Wait);
        Assert.Empty(cut.FindAll("[data-testid=gallery-batch]"));

        await cut.Find("input[data-testid=gallery-group-by-batch], [data-testid=gallery-group-by-batch] input").ChangeAsync(new ChangeEventArgs { Value = true });

        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=gallery-batch]").Count), Wait);
        var batches = cut.FindAll("[data-testid=gallery-batch]");
        Assert.Equal([1, 2], batches.Select(b => b.QuerySelectorAll("[data-testid=gallery-item]").Length));
        Assert.StartsWith("2 images", batches[1].QuerySelector("[data-testid=gallery-batch-title]")!.TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_images_it_says_so_and_a_commercial_account_learns_what_is_hidden()
    {
        await using (var ctx = NewContext())
        {
            var empty = RenderWithProviders<GalleryPage>(ctx, "/gallery");
            empty.WaitForAssertion(() => Assert.Contains("You have no images yet", empty.Find("[data-testid=gallery-empty]").TextContent, StringComparison.Ordinal), Wait);
        }

        var corp = await host.CreateUserAsync("corp@example.com", accountType: AccountType.Commercial);
        await rows.AddOutputAsync(corp, "made while non-commercial", T0, model: QueueHost.OtherModelId, commercialUse: false);
        await rows.AddOutputAsync(corp, "also non-commercial", T0.AddMinutes(1), model: QueueHost.OtherModelId, commercialUse: false);
        await using var corpContext = NewContext(corp, "corp@example.com");

        var cut = RenderWithProviders<GalleryPage>(corpContext, "/gallery");

        cut.WaitForAssertion(() => Assert.StartsWith("2 images hidden: made by a non-commercial model; your account is commercial.", cut.Find("[data-testid=gallery-hidden]").TextContent.Trim(), StringComparison.Ordinal), Wait);
        Assert.Contains("no images this account may see", cut.Find("[data-testid=gallery-empty]").TextContent, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid=gallery-item]"));
    }

    [Fact]
    public async Task Search_favourites_and_model_filters_change_the_query_and_the_address()
    {
        await rows.AddOutputAsync(ada, "a red fox in snow", T0);
        await rows.AddOutputAsync(ada, "a Red Fox at night", T0.AddMinutes(1), favourite: true);
        await rows.AddOutputAsync(ada, "a lighthouse", T0.AddMinutes(2), model: QueueHost.OtherModelId, commercialUse: false, favourite: true);
        await using var ctx = NewContext();
        var cut = RenderWithProviders<GalleryPage>(ctx, "/gallery");
        cut.WaitForAssertion(() => Assert.Equal(3, ShownPrompts(cut).Count), Wait);

        await cut.Find("input[data-testid=gallery-search]").InputAsync(new ChangeEventArgs { Value = "red fox" });
        cut.WaitForAssertion(() => Assert.Equal(["a Red Fox at night", "a red fox in snow"], ShownPrompts(cut)), Wait);
        Assert.Equal("/gallery?q=red%20fox", Path(ctx));

        await cut.Find("input[data-testid=gallery-favourites-only], [data-testid=gallery-favourites-only] input").ChangeAsync(new ChangeEventArgs { Value = true });
        cut.WaitForAssertion(() => Assert.Equal(["a Red Fox at night"], ShownPrompts(cut)), Wait);
        Assert.Equal("/gallery?q=red%20fox&favourites=true", Path(ctx));

        await cut.Find("input[data-testid=gallery-search]").InputAsync(new ChangeEventArgs { Value = "" });
        cut.WaitForAssertion(() => Assert.Equal(["a lighthouse", "a Red Fox at night"], ShownPrompts(cut)), Wait);

        var select = cut.FindComponent<MudSelect<string>>();
        await cut.InvokeAsync(() => select.Instance.OpenMenu());
        var option = cut.WaitForElements(".mud-popover-open .mud-list-item", Wait).Single(e => e.TextContent.Trim() == QueueHost.ModelId);
        await option.ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Equal(["a Red Fox at night"], ShownPrompts(cut)), Wait);
        Assert.Equal($"/gallery?model={QueueHost.ModelId}&favourites=true", Path(ctx));

        await cut.Find("input[data-testid=gallery-favourites-only], [data-testid=gallery-favourites-only] input").ChangeAsync(new ChangeEventArgs { Value = false });
        cut.WaitForAssertion(() => Assert.Equal(["a Red Fox at night", "a red fox in snow"], ShownPrompts(cut)), Wait);
    }

    [Fact]
    public async Task The_board_filter_lists_my_boards_and_those_shared_with_me_and_keeps_the_choice_in_the_address()
    {
        var boards = host.Services.GetRequiredService<BoardService>();
        var bob = await host.CreateUserAsync("bob@example.com");
        var onPicks = await rows.AddOutputAsync(ada, "a lake on my board", T0);
        var onBobs = await rows.AddOutputAsync(ada, "a fox on bob's board", T0.AddMinutes(1));
        await rows.AddOutputAsync(ada, "a hill on no board", T0.AddMinutes(2));
        var bobsOwn = await rows.AddOutputAsync(bob, "bob's own picture", T0.AddMinutes(3));
        var picks = (await boards.CreateAsync(ada, "Picks")).Value!.Id;
        var shared = (await boards.CreateAsync(bob, "Bob's moodboard")).Value!.Id;
        var strangers = (await boards.CreateAsync(bob, "Bob's private board")).Value!.Id;
        Assert.True((await boards.ShareAsync(bob, ShareTarget.Board(shared), "ada@example.com", ShareRole.Contributor, "ui")).Succeeded);
        Assert.True((await boards.AddImagesAsync(ada, picks, [onPicks.Id])).Succeeded);
        Assert.True((await boards.AddImagesAsync(ada, shared, [onBobs.Id])).Succeeded);
        Assert.True((await boards.AddImagesAsync(bob, shared, [bobsOwn.Id])).Succeeded);
        Assert.True((await boards.AddImagesAsync(bob, strangers, [bobsOwn.Id])).Succeeded);
        await using var ctx = NewContext();
        var cut = RenderWithProviders<GalleryPage>(ctx, "/gallery");
        cut.WaitForAssertion(() => Assert.Equal(3, ShownPrompts(cut).Count), Wait);

        // The select offers my board and the one shared with me, never a stranger's.
        var select = cut.FindComponents<MudSelect<string>>().Single(s => s.Instance.Label == "Board");
        await cut.InvokeAsync(() => select.Instance.OpenMenu());
        var options = cut.WaitForElements(".mud-popover-open .mud-list-item", Wait);
        Assert.Equal(["All my images", "Picks", "Bob's moodboard (by bob@example.com)"], options.Select(o => o.TextContent.Trim()));
        await options.Single(o => o.TextContent.Trim() == "Picks").ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Equal(["a lake on my board"], ShownPrompts(cut)), Wait);
        Assert.Equal($"/gallery?board={picks}", Path(ctx));

        // From the address (a reload, a shared link): my images on a board shared with me, not its owner's.
        await using var shared2 = NewContext();
        var fromAddress = RenderWithProviders<GalleryPage>(shared2, $"/gallery?board={shared}&q=fox");
        fromAddress.WaitForAssertion(() => Assert.Equal(["a fox on bob's board"], ShownPrompts(fromAddress)), Wait);
        Assert.Contains(fromAddress.FindAll("input"), i => i.GetAttribute("value") == "Bob's moodboard (by bob@example.com)");

        // A board I may not open shows nothing, like an unknown one, and does not name it.
        await using var stranger = NewContext();
        var refused = RenderWithProviders<GalleryPage>(stranger, $"/gallery?board={strangers}");
        refused.WaitForAssertion(() => Assert.NotNull(refused.Find("[data-testid=gallery-clear-filters]")), Wait);
        Assert.DoesNotContain("Bob's private board", refused.Markup, StringComparison.Ordinal);
        Assert.DoesNotContain("bob's own picture", refused.Markup, StringComparison.Ordinal);
        await refused.Find("[data-testid=gallery-clear-filters]").ClickAsync(new MouseEventArgs());
        refused.WaitForAssertion(() => Assert.Equal(3, ShownPrompts(refused).Count), Wait);
        Assert.Equal("/gallery", Path(stranger));
    }

    [Fact]
    public async Task Date_filters_come_from_the_address_and_an_empty_result_offers_to_clear_them()
    {
        await rows.AddOutputAsync(ada, "day one", T0);
        await rows.AddOutputAsync(ada, "day two", T0.AddDays(1));
        await rows.AddOutputAsync(ada, "day three", T0.AddDays(2));
        await using var ctx = NewContext();

        var cut = RenderWithProviders<GalleryPage>(ctx, "/gallery?from=2026-11-21&to=2026-11-22");

        cut.WaitForAssertion(() => Assert.Equal(["day three", "day two"], ShownPrompts(cut)), Wait);
        var picker = cut.FindComponent<MudDateRangePicker>().Instance;
        Assert.Equal((new DateTime(2026, 11, 21), new DateTime(2026, 11, 22)), (picker.DateRange!.Start, picker.DateRange.End));

        await using var other = NewContext();
        var none = RenderWithProviders<GalleryPage>(other, "/gallery?from=2027-01-01&q=day");
        none.WaitForAssertion(() => Assert.Contains("No images match these filters", none.Find("[data-testid=gallery-empty]").TextContent, StringComparison.Ordinal), Wait);
        await none.Find("[data-testid=gallery-clear-filters]").ClickAsync(new MouseEventArgs());
        none.WaitForAssertion(() => Assert.Equal(3, ShownPrompts(none).Count), Wait);
        Assert.Equal("/gallery", Path(other));
    }

    [Fact]
    public async Task The_star_toggles_the_favourite()
    {
        var image = await rows.AddOutputAsync(ada, "star me", T0);
        await using var ctx = NewContext();
        var cut = RenderWithProviders<GalleryPage>(ctx, "/gallery");
        cut.WaitForAssertion(() => Assert.Single(ShownPrompts(cut)), Wait);
        Assert.Equal("false", cut.Find("[data-testid=gallery-favourite]").GetAttribute("aria-pressed"));

        await cut.Find("[data-testid=gallery-favourite]").ClickAsync(new MouseEventArgs());

        cut.WaitForAssertion(() => Assert.Equal("true", cut.Find("[data-testid=gallery-favourite]").GetAttribute("aria-pressed")), Wait);
        Assert.True(await FavouriteInDbAsync(image.Id));
        Assert.Equal("Remove from favourites", cut.Find("[data-testid=gallery-favourite]").GetAttribute("aria-label"));

        await cut.Find("[data-testid=gallery-favourite]").ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Equal("false", cut.Find("[data-testid=gallery-favourite]").GetAttribute("aria-pressed")), Wait);
        Assert.False(await FavouriteInDbAsync(image.Id));
    }

    [Fact]
    public async Task Delete_asks_first_and_cancel_keeps_the_image()
    {
        var keep = await rows.AddOutputAsync(ada, "keep me", T0);
        var remove = await rows.AddOutputAsync(ada, "delete me", T0.AddMinutes(1));
        await using var ctx = NewContext();
        var cut = RenderWithProviders<GalleryPage>(ctx, "/gallery");
        cut.WaitForAssertion(() => Assert.Equal(2, ShownPrompts(cut).Count), Wait);

        // The click's handler waits for the answer, so it is not awaited until the dialog has been answered.
        async Task<Task> AskToDeleteAsync(Guid id)
        {
            await cut.Find($"[data-image-id='{id}'] [data-testid=gallery-actions] button").ClickAsync(new MouseEventArgs());
            var asking = cut.WaitForElement("[data-testid=gallery-delete]", Wait).ClickAsync(new MouseEventArgs());
            cut.WaitForAssertion(() => Assert.Contains(GalleryDeletion.Title, cut.Find(".mud-dialog").TextContent, StringComparison.Ordinal), Wait);
            return asking;
        }

        var asked = await AskToDeleteAsync(remove.Id);
        await cut.FindAll(".mud-dialog button").Single(b => b.TextContent.Trim() == "Cancel").ClickAsync(new MouseEventArgs());
        await asked.WaitAsync(Wait);
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll(".mud-dialog")), Wait);
        Assert.Equal(2, ShownPrompts(cut).Count);
        Assert.True(await host.WithDbAsync(db => db.Images.AnyAsync(i => i.Id == remove.Id)));

        asked = await AskToDeleteAsync(remove.Id);
        await cut.FindAll(".mud-dialog button").Single(b => b.TextContent.Trim() == GalleryDeletion.ConfirmText).ClickAsync(new MouseEventArgs());
        await asked.WaitAsync(Wait);

        cut.WaitForAssertion(() => Assert.Equal(["keep me"], ShownPrompts(cut)), Wait);
        Assert.False(await host.WithDbAsync(db => db.Images.AnyAsync(i => i.Id == remove.Id)));
        Assert.True(await host.WithDbAsync(db => db.Images.AnyAsync(i => i.Id == keep.Id)));
    }

    [Theory]
    [InlineData("gallery-use-settings", "/studio?settings=")]
    [InlineData("gallery-use-reference", "/studio?reference=")]
    [InlineData("gallery-edit", "/studio?edit=")]
    public async Task Studio_actions_navigate_to_the_studios_deep_links(string action, string link)
    {
        var image = await rows.AddOutputAsync(ada, "reuse me", T0);
        await using var ctx = NewContext();
        var cut = RenderWithProviders<GalleryPage>(ctx, "/gallery");
        cut.WaitForAssertion(() => Assert.Single(ShownPrompts(cut)), Wait);

        await cut.Find("[data-testid=gallery-actions] button").ClickAsync(new MouseEventArgs());
        await cut.WaitForElement($"[data-testid={action}]", Wait).ClickAsync(new MouseEventArgs());

        Assert.Equal(link + image.Id, Path(ctx));
    }

    [Fact]
    public async Task The_detail_dialog_shows_the_parameters_and_its_actions_work()
    {
        var image = await rows.AddOutputAsync(ada, "a detailed teapot", T0, job: j => { j.ResolvedSteps = 28; j.Settings = j.Settings with { Guidance = 4f, Seed = 123456789, NegativePrompt = "chipped, cracked" }; });
        await using var ctx = NewContext();
        var cut = RenderWithProviders<GalleryPage>(ctx, "/gallery");
        cut.WaitForAssertion(() => Assert.Single(ShownPrompts(cut)), Wait);

        await cut.Find("[data-testid=gallery-open]").ClickAsync(new MouseEventArgs());

        var detail = cut.WaitForElement("[data-testid=image-detail]", Wait);
        Assert.Equal("a detailed teapot", cut.Find("[data-testid=detail-prompt]").TextContent);
        Assert.Equal("chipped, cracked", cut.Find("[data-testid=detail-negative-prompt]").TextContent);
        Assert.Equal("28", cut.Find("[data-testid=detail-steps]").TextContent);
        Assert.Equal("123456789", cut.Find("[data-testid=detail-seed]").TextContent);
        Assert.Contains("Apache-2.0", cut.Find("[data-testid=detail-licence]").TextContent, StringComparison.Ordinal);
        Assert.Equal("1.5 s", cut.Find("[data-testid=detail-gpu]").TextContent);
        Assert.Equal($"/api/v1/images/{image.Id}", cut.Find("[data-testid=detail-image]").GetAttribute("src"));
        Assert.Equal($"/api/v1/images/{image.Id}?download=true", cut.Find("[data-testid=detail-download]").GetAttribute("href"));
        Assert.Contains("Queued", detail.TextContent, StringComparison.Ordinal);

        // A favourite set in the dialog shows in the grid behind it.
        await cut.Find("[data-testid=detail-favourite]").ClickAsync(new MouseEventArgs());
        cut.WaitForAssertion(() => Assert.Equal("true", cut.Find("[data-testid=gallery-favourite]").GetAttribute("aria-pressed")), Wait);
        Assert.True(await FavouriteInDbAsync(image.Id));

        await cut.Find("[data-testid=detail-use-settings]").ClickAsync(new MouseEventArgs());
        Assert.Equal($"/studio?settings={image.Id}", Path(ctx));
    }

    [Fact]
    public async Task Load_more_appends_the_next_page()
    {
        for (var i = 0; i < GalleryPage.PageSize + 3; i++)
        {
            await rows.AddOutputAsync(ada, $"image {i:00}", T0.AddMinutes(i));
        }

        await using var ctx = NewContext();
        var cut = RenderWithProviders<GalleryPage>(ctx, "/gallery");
        cut.WaitForAssertion(() => Assert.Equal(GalleryPage.PageSize, ShownPrompts(cut).Count), Wait);

        await cut.Find("[data-testid=gallery-load-more]").ClickAsync(new MouseEventArgs());

        cut.WaitForAssertion(() => Assert.Equal(GalleryPage.PageSize + 3, ShownPrompts(cut).Count), Wait);
        Assert.Equal("image 00", ShownPrompts(cut)[^1]);
        Assert.Empty(cut.FindAll("[data-testid=gallery-load-more]"));
    }

    [Fact]
    public async Task History_lists_each_prompt_once_searches_and_links_to_the_studio()
    {
        var fox = await rows.AddOutputAsync(ada, "a red fox", T0);
        await rows.AddJobAsync(ada, "a red fox", T0.AddHours(1));
        await rows.AddJobAsync(ada, "a harbour & boats", T0.AddHours(2));
        await using var ctx = NewContext();

        var cut = RenderWithProviders<HistoryPage>(ctx, "/history");

        cut.WaitForAssertion(() => Assert.Equal(["a harbour & boats", "a red fox"], cut.FindAll("[data-testid=history-prompt]").Select(p => p.TextContent)), Wait);
        var metas = cut.FindAll("[data-testid=history-meta]").Select(m => m.TextContent).ToList();
        Assert.StartsWith("used once", metas[0], StringComparison.Ordinal);
        Assert.StartsWith("used 2 times", metas[1], StringComparison.Ordinal);
        var links = cut.FindAll("[data-testid=history-reuse]").Select(a => a.GetAttribute("href")).ToList();
        Assert.Equal(["/studio?prompt=a%20harbour%20%26%20boats", $"/studio?settings={fox.Id}"], links);

        await cut.Find("input[data-testid=history-search]").InputAsync(new ChangeEventArgs { Value = "FOX" });
        cut.WaitForAssertion(() => Assert.Equal(["a red fox"], cut.FindAll("[data-testid=history-prompt]").Select(p => p.TextContent)), Wait);

        await cut.Find("input[data-testid=history-search]").InputAsync(new ChangeEventArgs { Value = "zebra" });
        cut.WaitForAssertion(() => Assert.Contains("None of your prompts contains “zebra”", cut.Find("[data-testid=history-empty]").TextContent, StringComparison.Ordinal), Wait);
    }
}
