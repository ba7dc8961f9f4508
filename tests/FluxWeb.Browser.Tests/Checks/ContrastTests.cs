using System.Text;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace FluxWeb.Browser.Tests.Checks;

/// <summary>
/// WCAG AA text contrast (4.5:1, large text 3:1) over the main pages in both themes, from the
/// colours Chromium computed: sign-in, Studio, gallery and detail, history, account, API keys and
/// every admin page, each with data on it. Every offender is listed (and kept in the artefacts).
/// </summary>
[Collection(LivedInCollection.Name)]
public sealed class ContrastTests(LivedInBrowserSession session, ITestOutputHelper output)
{
    [Theory]
    [InlineData("light")]
    [InlineData("dark")]
    public async Task Every_text_on_the_main_pages_meets_wcag_aa_contrast(string theme)
    {
        var problems = new StringBuilder();
        var undecided = new StringBuilder();
        var judged = 0;

        async Task TourAsync(IPage page, IEnumerable<TourStop> stops)
        {
            foreach (var stop in stops)
            {
                try
                {
                    await stop.VisitAsync(page);
                }
                catch
                {
                    await AppBrowserSession.ScreenshotAsync(page, $"contrast-{theme}-{stop.Name}-failure");
                    throw;
                }

                var report = await PageChecks.ContrastAsync(page);
                judged += report.Checked;
                Assert.True(report.Checked > 0, $"{stop.Name}: no text was found to judge; the check is not looking at the page.");
                if (report.Offenders.Length > 0)
                {
                    problems.Append(PageChecks.Describe($"{stop.Name} ({theme})", report.Offenders));
                }

                if (report.Undecided.Length > 0)
                {
                    undecided.Append(PageChecks.Describe($"{stop.Name} ({theme}), over a background image", report.Undecided));
                }
            }
        }

        var anonymous = await session.NewThemedPageAsync(theme);
        await TourAsync(anonymous, PageTour.SignIn);

        var dana = await session.NewThemedPageAsync(theme);
        await AppBrowserSession.SignInAsync(dana, LivedInBrowserSession.DanaEmail);
        await TourAsync(dana, PageTour.User(session.DanaImageId));

        var admin = await session.NewThemedPageAsync(theme);
        await AppBrowserSession.SignInAsync(admin, LivedInBrowserSession.AdminEmail, "/admin");
        await TourAsync(admin, PageTour.Admin(session.OutputFile));

        var summary = $"{judged} texts judged in the {theme} theme.\n{problems}{undecided}";
        output.WriteLine(summary);
        await File.WriteAllTextAsync(Path.Combine(AppBrowserSession.ArtefactsDirectory, $"contrast-{theme}.txt"), summary);
        Assert.True(problems.Length == 0, $"Text below WCAG AA contrast in the {theme} theme:\n{problems}");
    }
}
