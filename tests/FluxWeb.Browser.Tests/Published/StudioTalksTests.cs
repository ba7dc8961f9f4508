using System.Globalization;
using System.Text.Json;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace FluxWeb.Browser.Tests.Published;

/// <summary>
/// The Studio says what it is doing, in the published app: a quota refusal shows beside Generate at
/// the moment of the click with a one-click offer of what still fits, the app bar counts today's
/// images, and the tab's title follows the jobs to "✓ Done".
/// </summary>
[Collection(SecondPublishedAppCollection.Name)]
public sealed class StudioTalksTests(PublishedAppSession session, ITestOutputHelper output)
{
    private const string RecordTitlesScript = """
        () => {
          const titles = window.fluxwebTitles = [document.title];
          new MutationObserver(() => { if (titles.at(-1) !== document.title) titles.push(document.title); })
            .observe(document.head, { subtree: true, childList: true, characterData: true });
        }
        """;

    [Fact]
    public async Task A_quota_refusal_shows_at_Generate_offers_what_fits_and_the_tab_title_follows_the_jobs_to_done()
    {
        const string email = "quota@example.com";
        await session.EnsureAccountAsync(email);
        await session.App.RunCommandAsync(null, "users", "set", "--email", email, "--images-per-day", "3");
        var page = await session.NewPageAsync(1440, 900);
        await page.Context.AddCookiesAsync([new Cookie { Name = "fluxweb.theme", Value = "dark", Url = session.BaseUrl }]);
        try
        {
            await AppBrowserSession.SignInAsync(page, email);
            await AppBrowserSession.WaitForCircuitAsync(page);
            var chip = page.Locator("[data-testid=quota-chip]");
            await Assertions.Expect(chip).ToContainTextAsync("0 / 3 images today");
            Assert.Equal("Studio · FluxWeb", await page.TitleAsync());

            await StudioPage.ChooseModelAsync(page, PublishedAppSession.DistilledModel);
            await StudioPage.SetSizeAsync(page, 256, 256);
            await page.FillAsync("#studio-prompt", "a red kite over the dunes");
            await page.FillAsync("#studio-count", "5");
            var generate = page.Locator("[data-testid=generate]");
            await generate.ClickAsync();

            // The refusal is where the person is looking: right above Generate, in view, without scrolling.
            var alert = page.Locator("[data-testid=studio-alert][data-kind=quota]");
            await Assertions.Expect(alert).ToBeVisibleAsync();
            await Assertions.Expect(alert).ToContainTextAsync("Quota reached.");
            var (alertBox, generateBox) = ((await alert.BoundingBoxAsync())!, (await generate.BoundingBoxAsync())!);
            Assert.True(alertBox.Y >= 0 && alertBox.Y + alertBox.Height <= 900, $"The refusal is out of view at y={alertBox.Y:0}.");
            var gap = generateBox.Y - (alertBox.Y + alertBox.Height);
            Assert.True(gap is >= 0 and < 80, string.Create(CultureInfo.InvariantCulture, $"The refusal should sit just above Generate; it is {gap:0} px away."));
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(AppBrowserSession.ArtefactsDirectory, "studio-quota-refusal-desktop-dark.png") });

            // One click takes what still fits; the tab's title follows the jobs and ends on "✓ Done".
            await page.EvaluateAsync(RecordTitlesScript);
            var fit = alert.Locator("[data-testid=quota-fit]");
            await Assertions.Expect(fit).ToHaveTextAsync("Generate 3 images instead");
            await fit.ClickAsync();
            await Assertions.Expect(page.Locator("#studio-count")).ToHaveValueAsync("3");
            await Assertions.Expect(chip).ToContainTextAsync("3 / 3 images today");
            await page.WaitForFunctionAsync("() => document.title === '✓ Done · FluxWeb'", null, new() { Timeout = 120_000 });
            var titles = JsonSerializer.Deserialize<string[]>(await page.EvaluateAsync<string>("() => JSON.stringify(window.fluxwebTitles)"))!;
            StudioPage.Report(output, $"studio: the tab's title went {string.Join(" → ", titles)}");
            Assert.Contains(titles, t => System.Text.RegularExpressions.Regex.IsMatch(t, @"^\((\d+/\d+|…|\d+ waiting)\) FluxWeb$"));
            await Assertions.Expect(page.Locator("[data-testid=result]")).ToHaveCountAsync(3);

            // On a phone the refusal shows in the bottom bar, with Generate; nothing fits any more, so nothing is offered.
            await page.SetViewportSizeAsync(390, 844);
            await page.FillAsync("#studio-count", "2");
            await generate.ClickAsync();
            await Assertions.Expect(alert).ToBeVisibleAsync();
            var phoneAlert = (await alert.BoundingBoxAsync())!;
            Assert.True(phoneAlert.Y >= 0 && phoneAlert.Y + phoneAlert.Height <= 844, $"On a phone the refusal is out of view at y={phoneAlert.Y:0}.");
            await Assertions.Expect(alert.Locator("[data-testid=quota-fit]")).ToHaveCountAsync(0);
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(AppBrowserSession.ArtefactsDirectory, "studio-quota-refusal-phone-dark.png") });
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(page, "studio-talks-failure");
            throw;
        }
    }
}
