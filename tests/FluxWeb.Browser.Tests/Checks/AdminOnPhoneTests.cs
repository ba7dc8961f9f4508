using System.Text;
using Xunit.Abstractions;

namespace FluxWeb.Browser.Tests.Checks;

/// <summary>
/// Every admin page on a 390×844 phone with real data in its tables: nothing is cut off, spills out
/// of its card or makes the page scroll sideways. A screenshot of each page is kept in the artefacts
/// (<c>admin-phone-*.png</c>).
/// </summary>
[Collection(LivedInCollection.Name)]
public sealed class AdminOnPhoneTests(LivedInBrowserSession session, ITestOutputHelper output)
{
    [Fact]
    public async Task Every_admin_page_fits_a_390_px_phone_without_cutting_anything_off()
    {
        var page = await session.NewThemedPageAsync("light", 390, 844);
        await AppBrowserSession.SignInAsync(page, LivedInBrowserSession.AdminEmail, "/admin");
        var problems = new StringBuilder();
        foreach (var stop in PageTour.Admin(session.OutputFile))
        {
            try
            {
                await stop.VisitAsync(page);
            }
            catch
            {
                await AppBrowserSession.ScreenshotAsync(page, $"admin-phone-{stop.Name}-failure");
                throw;
            }

            var report = await PageChecks.OverflowAsync(page);
            await AppBrowserSession.ScreenshotAsync(page, $"admin-phone-{stop.Name}");
            Assert.True(report.Checked > 20, $"{stop.Name}: only {report.Checked} elements were looked at; the check is not looking at the page.");
            output.WriteLine($"{stop.Name}: {report.Checked} elements, {report.Offenders.Length} problems");
            if (report.Offenders.Length > 0)
            {
                problems.Append(PageChecks.Describe(stop.Name, report.Offenders));
            }
        }

        await File.WriteAllTextAsync(Path.Combine(AppBrowserSession.ArtefactsDirectory, "admin-phone.txt"), problems.ToString());
        Assert.True(problems.Length == 0, $"Admin pages at 390 px:\n{problems}");
    }
}
