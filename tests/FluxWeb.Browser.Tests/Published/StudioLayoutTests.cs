using System.Globalization;
using System.Text;
using FluxWeb.Browser.Tests.Checks;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace FluxWeb.Browser.Tests.Published;

/// <summary>
/// The Studio's layout in the published app, at the sizes people use it: at 1440×900 Generate and
/// the running job's preview are in view together without scrolling; at 390×844 Generate stays in
/// a bar at the bottom and its progress chip brings the stage into view. Both themes, with the
/// contrast check over the new Studio (live preview and result on the stage) and screenshots kept
/// as artefacts.
/// </summary>
[Collection(SecondPublishedAppCollection.Name)]
public sealed class StudioLayoutTests(PublishedAppSession session, ITestOutputHelper output)
{
    [Theory]
    [InlineData("light")]
    [InlineData("dark")]
    public async Task Generate_and_the_live_preview_are_in_view_together_on_a_desktop_and_Generate_stays_reachable_on_a_phone(string theme)
    {
        var email = $"layout-{theme}@example.com";
        await session.EnsureAccountAsync(email);
        var page = await session.NewPageAsync(1440, 900);
        await page.Context.AddCookiesAsync([new Cookie { Name = "fluxweb.theme", Value = theme, Url = session.BaseUrl }]);
        var contrast = new StringBuilder();
        try
        {
            await AppBrowserSession.SignInAsync(page, email);
            await AppBrowserSession.WaitForCircuitAsync(page);
            var stage = page.Locator("[data-testid=stage]");
            var generate = page.Locator("[data-testid=generate]");
            await Assertions.Expect(stage).ToHaveAttributeAsync("data-showing", "empty");
            await AppBrowserSession.ScreenshotAsync(page, $"studio-new-empty-desktop-{theme}");

            // Enough steps to look at the preview while it forms.
            await StudioPage.ChooseModelAsync(page, PublishedAppSession.BaseModel);
            await page.FillAsync("#studio-steps", "30");
            await StudioPage.SetSizeAsync(page, 512, 512);
            await page.FillAsync("#studio-prompt", "a harbour at dawn, fishing boats");
            await generate.ClickAsync();

            var preview = stage.Locator("[data-testid=stage-preview]");
            await StudioPage.WaitForLoadedImageAsync(preview, "/preview?step=", timeoutMs: 60_000);
            await AssertInViewWithoutScrollingAsync(page, generate, "Generate");
            await AssertInViewWithoutScrollingAsync(page, preview, "the live preview");
            var previewBox = (await preview.BoundingBoxAsync())!;
            Assert.True(previewBox.Height >= 400, $"The live preview is {previewBox.Width:0}×{previewBox.Height:0} px on the stage; it should be large, not a thumbnail.");
            StudioPage.Report(output, string.Create(CultureInfo.InvariantCulture, $"studio layout ({theme}): live preview shown at {previewBox.Width:0}×{previewBox.Height:0} px at 1440×900"));
            await ViewportScreenshotAsync(page, $"studio-new-live-desktop-1440x900-{theme}");
            await JudgeContrastAsync(page, $"studio-live-{theme}", contrast);

            await Assertions.Expect(stage).ToHaveAttributeAsync("data-showing", "result", new() { Timeout = 90_000 });
            await StudioPage.WaitForLoadedImageAsync(stage.Locator("[data-testid=stage-image]"), "/api/v1/images/");
            await AssertInViewWithoutScrollingAsync(page, generate, "Generate");
            await AssertInViewWithoutScrollingAsync(page, stage.Locator("[data-testid=stage-image]"), "the result on the stage");
            await ViewportScreenshotAsync(page, $"studio-new-result-desktop-1440x900-{theme}");
            await JudgeContrastAsync(page, $"studio-result-{theme}", contrast);

            // A phone: the form first, the stage below it, Generate in a bar at the bottom of the screen wherever one scrolls.
            await page.SetViewportSizeAsync(390, 844);
            await StudioPage.AssertNoSidewaysScrollAsync(page);
            await AssertInViewAsync(page, generate, "Generate at the top of the page on a phone");
            await page.EvaluateAsync("() => window.scrollTo(0, document.documentElement.scrollHeight)");
            await page.WaitForFunctionAsync("() => window.scrollY > 0");
            await AssertInViewAsync(page, generate, "Generate at the end of the page on a phone");
            await ViewportScreenshotAsync(page, $"studio-new-phone-390x844-bottom-{theme}");
            await page.EvaluateAsync("() => window.scrollTo(0, 0)");
            await page.WaitForFunctionAsync("() => window.scrollY === 0");
            await ViewportScreenshotAsync(page, $"studio-new-phone-390x844-top-{theme}");
            await AppBrowserSession.ScreenshotAsync(page, $"studio-new-phone-390x844-full-{theme}");

            // Two images take long enough to follow: the chip shows the progress and brings the stage into view.
            await page.FillAsync("#studio-count", "2");
            await generate.ClickAsync();
            var chip = page.Locator("[data-testid=progress-chip]");
            await Assertions.Expect(chip).ToBeVisibleAsync(new() { Timeout = 30_000 });
            await AssertInViewAsync(page, chip, "the progress chip on a phone");
            Assert.False(await IsInViewAsync(page, stage), "The stage should start below the form on a phone; the chip has nothing to do otherwise.");
            await chip.ClickAsync();
            await page.WaitForFunctionAsync(
                "() => { const r = document.getElementById('studio-stage').getBoundingClientRect(); return r.top >= 0 && r.top < window.innerHeight / 2; }");
            await ViewportScreenshotAsync(page, $"studio-new-phone-390x844-stage-{theme}");
            await JudgeContrastAsync(page, $"studio-phone-{theme}", contrast);
            await Assertions.Expect(chip).ToHaveCountAsync(0, new() { Timeout = 120_000 });

            Assert.True(contrast.Length == 0, $"Text below WCAG AA contrast on the new Studio ({theme}):\n{contrast}");
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(page, $"studio-layout-failure-{theme}");
            throw;
        }
    }

    /// <summary>What is on the screen (not the whole page): the view a person has.</summary>
    private static async Task ViewportScreenshotAsync(IPage page, string name) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(AppBrowserSession.ArtefactsDirectory, $"{name}.png"), FullPage = false });

    private static async Task<bool> IsInViewAsync(IPage page, ILocator element)
    {
        var box = await element.BoundingBoxAsync();
        var window = page.ViewportSize!;
        return box is not null && box.X >= 0 && box.Y >= 0 && box.X + box.Width <= window.Width && box.Y + box.Height <= window.Height;
    }

    private static async Task AssertInViewAsync(IPage page, ILocator element, string what)
    {
        await Assertions.Expect(element).ToBeVisibleAsync();
        var box = await element.BoundingBoxAsync();
        var window = page.ViewportSize!;
        Assert.True(await IsInViewAsync(page, element),
            string.Create(CultureInfo.InvariantCulture, $"{what} is not wholly in the {window.Width}×{window.Height} window: it is at ({box?.X:0}, {box?.Y:0}), {box?.Width:0}×{box?.Height:0}."));
    }

    private static async Task AssertInViewWithoutScrollingAsync(IPage page, ILocator element, string what)
    {
        Assert.Equal(0, await page.EvaluateAsync<double>("() => window.scrollY"));
        await AssertInViewAsync(page, element, what);
    }

    private static async Task JudgeContrastAsync(IPage page, string name, StringBuilder problems)
    {
        var report = await PageChecks.ContrastAsync(page);
        Assert.True(report.Checked > 5, $"{name}: only {report.Checked} texts were judged; the check is not looking at the page.");
        if (report.Offenders.Length > 0)
        {
            problems.Append(PageChecks.Describe(name, report.Offenders));
        }
    }
}
