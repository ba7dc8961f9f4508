using System.Text;
using FluxWeb.Browser.Tests.Published;
using Microsoft.Playwright;

namespace FluxWeb.Browser.Tests.Checks;

/// <summary>
/// The contrast check on what a user deploys: the published executable's sign-in page and Studio
/// (its own stylesheets, bundled and fingerprinted) in both themes.
/// </summary>
[Collection(PublishedAppCollection.Name)]
public sealed class PublishedContrastTests(PublishedAppSession session)
{
    [Theory]
    [InlineData("light")]
    [InlineData("dark")]
    public async Task The_published_sign_in_page_and_studio_meet_wcag_aa_contrast(string theme)
    {
        var page = await session.NewPageAsync();
        await page.Context.AddCookiesAsync([new Cookie { Name = "fluxweb.theme", Value = theme, Url = session.BaseUrl }]);
        var problems = new StringBuilder();

        await page.GotoAsync("/Account/Login");
        await Judge("published-sign-in");

        await AppBrowserSession.SignInAsync(page, PublishedAppSession.AdminEmail);
        await AppBrowserSession.WaitForCircuitAsync(page);
        await page.Locator("[data-testid=generate]").WaitForAsync();
        await Judge("published-studio");

        Assert.True(problems.Length == 0, $"Text below WCAG AA contrast in the published app's {theme} theme:\n{problems}");

        async Task Judge(string name)
        {
            var report = await PageChecks.ContrastAsync(page);
            await AppBrowserSession.ScreenshotAsync(page, $"contrast-{theme}-{name}");
            Assert.True(report.Checked > 5, $"{name}: only {report.Checked} texts were judged; the check is not looking at the page.");
            if (report.Offenders.Length > 0)
            {
                problems.Append(PageChecks.Describe($"{name} ({theme})", report.Offenders));
            }
        }
    }
}
