using System.Security.Claims;
using Bunit;
using FluxWeb.Application.Boards;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Boards;
using FluxWeb.Host.Components.Pages.Boards;
using FluxWeb.Host.Components.Pages.Gallery;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;

namespace FluxWeb.Web.Tests.Components;

/// <summary>Dragging images onto boards: the targets offered, and what the board service (the real one, on SQLite) lets through.</summary>
public sealed class BoardDropTargetsTests : IAsyncLifetime
{
    private static readonly DateTime T0 = new(2026, 11, 20, 9, 0, 0, DateTimeKind.Utc);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);

    private readonly TempFolder folder = new("fluxweb-board-drops");
    private QueueHost host = default!;
    private GalleryRows rows = default!;
    private BoardService boards = default!;
    private JobActor ada = default!;
    private JobActor bob = default!;

    public async Task InitializeAsync()
    {
        host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), worker: false);
        rows = new GalleryRows(host.Services);
        boards = host.Services.GetRequiredService<BoardService>();
        ada = await host.CreateUserAsync("ada@example.com");
        bob = await host.CreateUserAsync("bob@example.com");
    }

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    private BunitContext NewContext()
    {
        var ctx = new BunitContext();
        var auth = ctx.AddTestServices(host.Services);
        auth.SetAuthorized("ada@example.com");
        auth.SetClaims(new Claim(ClaimTypes.NameIdentifier, ada.UserId));
        return ctx;
    }

    private Task<List<Guid>> OnBoardAsync(Guid board) =>
        host.WithDbAsync(db => db.BoardImages.Where(e => e.BoardId == board).OrderBy(e => e.Position).Select(e => e.ImageId).ToListAsync());

    private static List<string> Messages(BunitContext ctx) => [.. ctx.Services.GetRequiredService<ISnackbar>().ShownSnackbars.Select(s => s.Message ?? "")];

    [Fact]
    public async Task Offers_the_boards_i_may_add_to_and_a_drop_adds_the_image_or_the_whole_selection()
    {
        var first = await rows.AddOutputAsync(ada, "first", T0);
        var second = await rows.AddOutputAsync(ada, "second", T0.AddMinutes(1));
        var third = await rows.AddOutputAsync(ada, "third", T0.AddMinutes(2));
        var picks = (await boards.CreateAsync(ada, "Picks")).Value!.Id;
        var contributing = (await boards.CreateAsync(bob, "Bob's moodboard")).Value!.Id;
        var lookOnly = (await boards.CreateAsync(bob, "Bob's look-only board")).Value!.Id;
        await boards.CreateAsync(bob, "Bob's private board");
        Assert.True((await boards.ShareAsync(bob, ShareTarget.Board(contributing), "ada@example.com", ShareRole.Contributor, "ui")).Succeeded);
        Assert.True((await boards.ShareAsync(bob, ShareTarget.Board(lookOnly), "ada@example.com", ShareRole.Viewer, "ui")).Succeeded);
        var selection = new ImageSelection();
        await using var ctx = NewContext();

        var cut = ctx.Render<BoardDropTargets>(p => p.Add(c => c.Actor, ada).Add(c => c.Selection, selection));

        cut.WaitForAssertion(() => Assert.Equal(["Picks", "Bob's moodboard"], cut.FindAll("[data-testid=board-drop-target]").Select(t => t.TextContent.Trim())), Wait);
        Assert.Equal([picks.ToString(), contributing.ToString()], cut.FindAll("[data-testid=board-drop-target]").Select(t => t.GetAttribute("data-board-id")));
        Assert.Contains(ctx.JSInterop.Invocations, i => i.Identifier == "import" && Equals(i.Arguments[0], BoardDropTargets.ModulePath));

        // An image that is not ticked goes alone.
        await cut.InvokeAsync(() => cut.Instance.DropOnBoard(picks.ToString(), third.Id.ToString()));
        Assert.Equal([third.Id], await OnBoardAsync(picks));
        Assert.Contains("1 image added to “Picks”.", Messages(ctx));

        // A ticked one takes the other ticked ones with it, onto a board I contribute to.
        selection.Click([], first.Id, shift: false);
        selection.Click([], second.Id, shift: false);
        await cut.InvokeAsync(() => cut.Instance.DropOnBoard(contributing.ToString(), second.Id.ToString()));
        Assert.Equal(new[] { first.Id, second.Id }.Order(), (await OnBoardAsync(contributing)).Order());
        Assert.Contains("2 images added to “Bob's moodboard”.", Messages(ctx));
    }

    [Fact]
    public async Task The_server_refuses_a_board_no_longer_mine_to_add_to_and_an_image_not_mine_and_says_so()
    {
        var mine = await rows.AddOutputAsync(ada, "mine", T0);
        var bobs = await rows.AddOutputAsync(bob, "bob's", T0.AddMinutes(1));
        var picks = (await boards.CreateAsync(ada, "Picks")).Value!.Id;
        var contributing = (await boards.CreateAsync(bob, "Bob's moodboard")).Value!.Id;
        var share = (await boards.ShareAsync(bob, ShareTarget.Board(contributing), "ada@example.com", ShareRole.Contributor, "ui")).Value!.Id;
        await using var ctx = NewContext();
        var cut = ctx.Render<BoardDropTargets>(p => p.Add(c => c.Actor, ada));
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=board-drop-target]").Count), Wait);

        // Bob ends the contribution while Ada's page still offers his board: the drop is refused, nothing is added.
        Assert.True((await boards.UnshareAsync(bob, share, "ui")).Succeeded);
        await cut.InvokeAsync(() => cut.Instance.DropOnBoard(contributing.ToString(), mine.Id.ToString()));
        Assert.Empty(await OnBoardAsync(contributing));
        Assert.Contains("That board is gone, or no longer yours to add to.", Messages(ctx));
        cut.WaitForAssertion(() => Assert.Equal(["Picks"], cut.FindAll("[data-testid=board-drop-target]").Select(t => t.TextContent.Trim())), Wait);

        // Someone else's image id (a forged drop) is not put on my board either.
        await cut.InvokeAsync(() => cut.Instance.DropOnBoard(picks.ToString(), bobs.Id.ToString()));
        Assert.Empty(await OnBoardAsync(picks));
        Assert.Contains(Messages(ctx), m => m.StartsWith("1 not added: Not one of your generated images", StringComparison.Ordinal));

        // Something that is not an id at all.
        await cut.InvokeAsync(() => cut.Instance.DropOnBoard(picks.ToString(), "https://example.com/cat.png"));
        Assert.Contains("That was not an image from this page.", Messages(ctx));
        Assert.Empty(await OnBoardAsync(picks));
    }

    [Fact]
    public async Task A_tile_is_dragged_as_a_whole_so_it_can_be_dragged_before_its_thumbnail_has_loaded()
    {
        var image = await rows.AddOutputAsync(ada, "a tile to drag", T0);
        var item = new GalleryItem(image.Id, "a tile to drag", "demo", "apache-2.0", true, 256, 256, 7, T0, false, null, null);
        await using var ctx = NewContext();

        var cut = ctx.Render<ImageTiles>(p => p.Add(c => c.Items, [item]).Add(c => c.Prefix, "gallery"));

        // The one drag source every target reads (wwwroot/js/image-drag.js) is the tile; Chromium drags an <img>
        // as a picture only once it has loaded, so the lazy thumbnail must not be what the drag starts from.
        var tile = cut.Find("[data-testid=gallery-item]");
        Assert.Equal("true", tile.GetAttribute("draggable"));
        Assert.Equal(image.Id.ToString(), tile.GetAttribute("data-fw-image-id"));
        Assert.Equal("false", tile.QuerySelector("img")!.GetAttribute("draggable"));
    }
}
