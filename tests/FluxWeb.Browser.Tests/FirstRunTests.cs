using Microsoft.Playwright;

namespace FluxWeb.Browser.Tests;

public sealed class FirstRunTests(BrowserSession session) : IClassFixture<BrowserSession>
{
    [Fact]
    public async Task First_user_registers_lands_in_the_studio_as_admin_and_signs_out()
    {
        var page = await session.NewPageAsync();
        try
        {
            await page.GotoAsync("/studio");
            Assert.EndsWith("/Account/Login?ReturnUrl=%2Fstudio", page.Url, StringComparison.Ordinal);

            await page.GotoAsync("/Account/Register");
            await page.Locator("[data-testid=first-admin-hint]").WaitForAsync();
            await page.FillAsync("#Input\\.Email", "founder@example.com");
            await page.FillAsync("#Input\\.Password", "Sunflower-42!");
            await page.FillAsync("#Input\\.ConfirmPassword", "Sunflower-42!");
            await page.ClickAsync("[data-testid=register-submit]");

            await page.WaitForURLAsync("**/studio");
            await BrowserSession.WaitForCircuitAsync(page);
            Assert.Equal("Studio", (await page.Locator("h1").InnerTextAsync()).Trim());
            // The admin link is only rendered for the Admin role.
            await page.Locator("a[href='admin']").WaitForAsync();
            await BrowserSession.ScreenshotAsync(page, "first-run-studio-desktop");
            await page.SetViewportSizeAsync(390, 844);
            await BrowserSession.ScreenshotAsync(page, "first-run-studio-phone");
            await page.SetViewportSizeAsync(1440, 900);

            // The circuit is live: the theme toggle works without a reload.
            var before = await page.Locator("[data-testid=theme-toggle]").GetAttributeAsync("aria-label");
            await page.ClickAsync("[data-testid=theme-toggle]");
            await Assertions.Expect(page.Locator("[data-testid=theme-toggle]")).Not.ToHaveAttributeAsync("aria-label", before!);
            var after = await page.Locator("[data-testid=theme-toggle]").GetAttributeAsync("aria-label");

            // …and the choice persists: after a reload the server renders the chosen theme.
            await page.WaitForFunctionAsync("() => document.cookie.includes('fluxweb.theme=')");
            await page.ReloadAsync();
            await BrowserSession.WaitForCircuitAsync(page);
            Assert.Equal(after, await page.Locator("[data-testid=theme-toggle]").GetAttributeAsync("aria-label"));

            await page.ClickAsync("[data-testid=sign-out]");
            await page.WaitForURLAsync("**/Account/Login");
            await page.GotoAsync("/studio");
            Assert.Contains("/Account/Login", page.Url, StringComparison.Ordinal);
        }
        catch
        {
            await BrowserSession.ScreenshotAsync(page, "first-run-failure");
            throw;
        }
    }
}
