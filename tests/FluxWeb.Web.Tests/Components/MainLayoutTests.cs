using Bunit;
using FluxWeb.Host.Components;
using FluxWeb.Host.Components.Layout;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;

namespace FluxWeb.Web.Tests.Components;

public sealed class MainLayoutTests
{
    private static BunitContext NewContext(bool admin)
    {
        var ctx = new BunitContext();
        // The quota chip reads the database; it has its own tests (QuotaChipTests), the layout only places it.
        ctx.ComponentFactories.AddStub<FluxWeb.Host.Components.Layout.QuotaChip>();
        var auth = ctx.AddTestServices();
        auth.SetAuthorized("ada@example.com");
        if (admin)
        {
            auth.SetRoles("Admin");
        }

        return ctx;
    }

    private static IRenderedComponent<MainLayout> RenderLayout(BunitContext ctx, bool storedDark) =>
        ctx.Render<MainLayout>(p => p
            .AddCascadingValue(ThemePreference.CascadingName, storedDark)
            .Add(l => l.Body, (RenderFragment)(b => b.AddMarkupContent(0, "<p id=\"page-body\">page body</p>"))));

    [Fact]
    public async Task Layout_renders_app_bar_navigation_and_the_page()
    {
        await using var ctx = NewContext(admin: true);

        var cut = RenderLayout(ctx, storedDark: false);

        Assert.Contains("FluxWeb", cut.Find(".mud-appbar").TextContent, StringComparison.Ordinal);
        var links = cut.FindAll("nav a, .mud-nav-link").Select(a => a.GetAttribute("href")).Where(h => h is not null).ToList();
        Assert.Contains("studio", links);
        Assert.Contains("gallery", links);
        Assert.Contains("history", links);
        Assert.Contains("admin", links);
        Assert.Equal("page body", cut.Find("#page-body").TextContent);
        await cut.Find("[data-testid=account-menu] button").ClickAsync(new MouseEventArgs());
        Assert.Equal("ada@example.com", cut.WaitForElement("[data-testid=signed-in-as]").TextContent);
        Assert.NotNull(cut.Find("[data-testid=circuit-ready]"));
    }

    [Fact]
    public async Task Users_do_not_see_the_admin_link()
    {
        await using var ctx = NewContext(admin: false);

        var cut = RenderLayout(ctx, storedDark: false);

        var links = cut.FindAll(".mud-nav-link").Select(a => a.GetAttribute("href")).ToList();
        Assert.Contains("studio", links);
        Assert.DoesNotContain("admin", links);
    }

    [Fact]
    public async Task Theme_toggle_switches_and_saves_the_choice()
    {
        await using var ctx = NewContext(admin: false);
        var module = ctx.JSInterop.SetupModule("./js/theme.js");
        module.SetupVoid("saveTheme", _ => true).SetVoidResult();

        var cut = RenderLayout(ctx, storedDark: false);
        Assert.False(cut.Instance.IsDarkMode);

        await cut.Find("[data-testid=theme-toggle]").ClickAsync(new MouseEventArgs());
        Assert.True(cut.Instance.IsDarkMode);
        Assert.Equal("Switch to light theme", cut.Find("[data-testid=theme-toggle]").GetAttribute("aria-label"));

        await cut.Find("[data-testid=theme-toggle]").ClickAsync(new MouseEventArgs());
        Assert.False(cut.Instance.IsDarkMode);

        var saved = module.Invocations["saveTheme"].Select(i => i.Arguments[0]).ToList();
        Assert.Equal(["dark", "light"], saved);
    }

    [Fact]
    public async Task A_stored_dark_choice_renders_dark_from_the_start()
    {
        await using var ctx = NewContext(admin: false);

        var cut = RenderLayout(ctx, storedDark: true);

        Assert.True(cut.Instance.IsDarkMode);
        Assert.Equal("Switch to light theme", cut.Find("[data-testid=theme-toggle]").GetAttribute("aria-label"));
    }
}
