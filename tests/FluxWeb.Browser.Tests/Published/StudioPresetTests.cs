using Microsoft.Playwright;

namespace FluxWeb.Browser.Tests.Published;

/// <summary>
/// Presets in the published app: save the form as a preset, change the form, reload, pick the preset and apply it,
/// and the form shows what the preset holds (its template wrapped around the new prompt, its model, steps and size).
/// </summary>
[Collection(PublishedAppCollection.Name)]
public sealed class StudioPresetTests(PublishedAppSession session)
{
    [Fact]
    public async Task A_saved_preset_survives_a_reload_and_applying_it_changes_the_form()
    {
        const string email = "presets@example.com";
        await session.EnsureAccountAsync(email);
        var page = await session.NewPageAsync();
        try
        {
            await AppBrowserSession.SignInAsync(page, email);
            await AppBrowserSession.WaitForCircuitAsync(page);

            await StudioPage.ChooseModelAsync(page, PublishedAppSession.BaseModel);
            await page.FillAsync("#studio-steps", "12");
            await StudioPage.SetSizeAsync(page, 768, 512);
            await page.FillAsync("#studio-prompt", "a lighthouse");

            await page.Locator("[data-testid=preset-save]").ClickAsync();
            await page.FillAsync("#preset-name", "Moody harbour");
            await page.FillAsync("#preset-template", "{prompt}, moody blue hour");
            await page.Locator("[data-testid=preset-dialog-save]").ClickAsync();
            await Assertions.Expect(page.Locator("[data-testid=preset-dialog]")).ToHaveCountAsync(0);
            await Assertions.Expect(page.Locator("[data-testid=preset-summary]")).ToContainTextAsync("768×512 · 12 steps");

            // Another form, kept in the browser, then a fresh page.
            await StudioPage.ChooseModelAsync(page, PublishedAppSession.DistilledModel);
            await StudioPage.SetSizeAsync(page, 1024, 1024);
            await page.FillAsync("#studio-prompt", "a harbour");
            await page.WaitForFunctionAsync("() => Object.keys(localStorage).some(k => k.startsWith('fluxweb.studio.draft.') && localStorage.getItem(k).includes('a harbour'))");
            await page.ReloadAsync();
            await AppBrowserSession.WaitForCircuitAsync(page);
            await Assertions.Expect(page.Locator("#studio-prompt")).ToHaveValueAsync("a harbour");
            await Assertions.Expect(page.Locator("#studio-steps")).ToHaveCountAsync(0);

            await page.Locator("[data-testid=preset-select]").ClickAsync();
            await page.Locator(".mud-popover-open [data-testid=preset-option]", new() { HasText = "Moody harbour" }).ClickAsync();
            await Assertions.Expect(page.Locator(".mud-popover-open [data-testid=preset-option]")).ToHaveCountAsync(0);
            await page.Locator("[data-testid=preset-apply]").ClickAsync();

            await Assertions.Expect(page.Locator("[data-testid=studio-alert]")).ToHaveAttributeAsync("data-kind", "preset");
            await Assertions.Expect(page.Locator("#studio-prompt")).ToHaveValueAsync("a harbour, moody blue hour");
            await Assertions.Expect(page.Locator("[data-testid=model-facts]")).ToContainTextAsync("Base ·");
            await Assertions.Expect(page.Locator("#studio-steps")).ToHaveValueAsync("12");
            await Assertions.Expect(page.Locator("#studio-width")).ToHaveValueAsync("768");
            await Assertions.Expect(page.Locator("#studio-height")).ToHaveValueAsync("512");
            await AppBrowserSession.ScreenshotAsync(page, "studio-preset-applied");
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(page, "studio-preset-failure");
            throw;
        }
    }
}
