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

    // The page's visibility is ours to set (a headless tab is always "visible"), and Notification records instead of
    // showing: what the Studio asked the browser to show is what the test reads. Each time the page asks whether it is
    // hidden is counted: the Studio asks once for each result it might announce, after the result is on the page.
    private const string NotificationStubScript = """
        (() => {
          const shown = window.fluxwebNotifications = [];
          let hidden = false;
          window.fluxwebHiddenAsked = 0;
          Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => { window.fluxwebHiddenAsked++; return hidden; } });
          Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => hidden ? 'hidden' : 'visible' });
          window.fluxwebSetHidden = value => { hidden = value; document.dispatchEvent(new Event('visibilitychange')); };
          class RecordingNotification {
            constructor(title, options = {}) { shown.push({ title, body: options.body ?? '', tag: options.tag ?? '', hidden }); }
            close() {}
            static get permission() { return 'granted'; }
            static requestPermission() { return Promise.resolve('granted'); }
          }
          window.Notification = RecordingNotification;
        })();
        """;

    // Every icon the tab shows: its state and, for the drawn ones, how many of its pixels are the ring's violet and the tick's green.
    private const string RecordFaviconsScript = """
        () => {
          const icons = window.fluxwebIcons = [];
          const look = link => {
            const entry = { state: link.dataset.state ?? '', href: link.href, violet: 0, green: 0 };
            icons.push(entry);
            if (!link.href.startsWith('data:image/png')) return;
            const img = new Image();
            img.onload = () => {
              const canvas = document.createElement('canvas');
              canvas.width = canvas.height = 32;
              const g = canvas.getContext('2d');
              g.drawImage(img, 0, 0);
              const data = g.getImageData(0, 0, 32, 32).data;
              for (let i = 0; i < data.length; i += 4) {
                const [r, gr, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
                if (a < 128) continue;
                if (b > r + 80 && b > gr + 80) entry.violet++;
                if (gr > r + 40 && gr > b + 40) entry.green++;
              }
              entry.measured = true;
            };
            img.src = link.href;
          };
          new MutationObserver(changes => {
            for (const change of changes) {
              if (change.target instanceof HTMLLinkElement && change.attributeName === 'data-state') look(change.target);
            }
          }).observe(document.head, { subtree: true, attributes: true, attributeFilter: ['data-state'] });
        }
        """;

    [Fact]
    public async Task The_tab_icon_follows_the_job_and_a_notification_comes_only_while_the_tab_is_hidden()
    {
        const string email = "notified@example.com";
        await session.EnsureAccountAsync(email);
        var context = await session.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = session.BaseUrl,
            ViewportSize = new ViewportSize { Width = 1440, Height = 900 },
        });
        context.SetDefaultTimeout(20_000);
        await context.GrantPermissionsAsync(["notifications"], new() { Origin = session.BaseUrl });
        await context.AddInitScriptAsync(NotificationStubScript);
        var page = await context.NewPageAsync();
        try
        {
            await AppBrowserSession.SignInAsync(page, email);
            await AppBrowserSession.WaitForCircuitAsync(page);
            await StudioPage.ChooseModelAsync(page, PublishedAppSession.DistilledModel);
            await StudioPage.SetSizeAsync(page, 256, 256);
            var toggle = page.Locator("[data-testid=notify-toggle]");
            await Assertions.Expect(toggle).ToHaveAttributeAsync("data-state", "off");
            await toggle.ClickAsync();
            await Assertions.Expect(toggle).ToHaveAttributeAsync("data-state", "on");
            await page.EvaluateAsync(RecordFaviconsScript);
            var results = page.Locator("[data-testid=result]");

            // Hidden: the finished job is announced, and the icon went from a ring to a tick.
            await page.EvaluateAsync("() => window.fluxwebSetHidden(true)");
            await page.FillAsync("#studio-prompt", "a lantern seen from the back of the room");
            await page.Locator("[data-testid=generate]").ClickAsync();
            await Assertions.Expect(results).ToHaveCountAsync(1, new() { Timeout = 120_000 });
            await page.WaitForFunctionAsync("() => window.fluxwebNotifications.length >= 1", null, new() { Timeout = 30_000 });
            await Assertions.Expect(page.Locator("link[rel~='icon']")).ToHaveAttributeAsync("data-state", "done");
            await page.WaitForFunctionAsync("() => window.fluxwebIcons.every(i => i.measured || !i.href.startsWith('data:image/png'))");
            var icons = JsonSerializer.Deserialize<TabIcon[]>(await page.EvaluateAsync<string>("() => JSON.stringify(window.fluxwebIcons)"), JsonSerializerOptions.Web)!;
            StudioPage.Report(output, $"studio: the tab's icon went {string.Join(" → ", icons.Select(i => $"{i.State} (violet {i.Violet}, green {i.Green})"))}");
            var running = icons.Where(i => double.TryParse(i.State, NumberStyles.Float, CultureInfo.InvariantCulture, out _)).ToList();
            Assert.NotEmpty(running);
            Assert.All(running, i => Assert.True(i.Violet > 0 && i.Green == 0, $"A running icon ({i.State} %) should be a violet ring without a tick."));
            var done = icons.Last();
            Assert.Equal("done", done.State);
            Assert.True(done.Green > 20, $"The done icon should show a green tick; it has {done.Green} green pixels.");
            Assert.True(icons.IndexOf(running[0]) < icons.IndexOf(done));

            // Visible: nothing is announced (the person is looking). Then hidden again: the next one is.
            await page.EvaluateAsync("() => window.fluxwebSetHidden(false)");
            await page.FillAsync("#studio-prompt", "a lantern seen from the front row");
            var asked = await page.EvaluateAsync<int>("() => window.fluxwebHiddenAsked");
            await page.Locator("[data-testid=generate]").ClickAsync();
            await Assertions.Expect(results).ToHaveCountAsync(2, new() { Timeout = 120_000 });
            // The result is drawn before the Studio asks the browser whether to announce it: hiding the tab in between
            // would rightly get it announced. Hidden again only once the Studio has asked about this one.
            await page.WaitForFunctionAsync($"() => window.fluxwebHiddenAsked > {asked}", null, new() { Timeout = 30_000 });
            await page.EvaluateAsync("() => window.fluxwebSetHidden(true)");
            await page.FillAsync("#studio-prompt", "a lantern seen from the balcony");
            await page.Locator("[data-testid=generate]").ClickAsync();
            await Assertions.Expect(results).ToHaveCountAsync(3, new() { Timeout = 120_000 });
            await page.WaitForFunctionAsync("() => window.fluxwebNotifications.length >= 2", null, new() { Timeout = 30_000 });

            var shown = JsonSerializer.Deserialize<ShownNotification[]>(await page.EvaluateAsync<string>("() => JSON.stringify(window.fluxwebNotifications)"), JsonSerializerOptions.Web)!;
            StudioPage.Report(output, $"studio: notifications shown: {string.Join(" | ", shown.Select(n => $"{n.Title}: {n.Body}"))}");
            Assert.Equal(["a lantern seen from the back of the room", "a lantern seen from the balcony"], shown.Select(n => n.Body));
            Assert.All(shown, n => Assert.Equal(("FluxWeb: your image is done", true), (n.Title, n.Hidden)));
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(page, "studio-notify-failure");
            throw;
        }
    }

    private sealed record TabIcon(string State, string Href, int Violet, int Green);

    private sealed record ShownNotification(string Title, string Body, string Tag, bool Hidden);

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
