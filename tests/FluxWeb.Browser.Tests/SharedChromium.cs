using Microsoft.Playwright;

namespace FluxWeb.Browser.Tests;

/// <summary>
/// The test run's one Chromium: launched when the first session needs it, shared by every session (each in
/// contexts of its own), and closed when the test process ends. A launch costs a second or two of CPU and
/// a few hundred MB; one per test class was a dozen of them.
/// </summary>
internal static class SharedChromium
{
    private static readonly Lazy<Task<(IPlaywright Playwright, IBrowser Browser)>> Launched = new(LaunchAsync);

    public static async Task<IBrowser> BrowserAsync() => (await Launched.Value).Browser;

    private static async Task<(IPlaywright, IBrowser)> LaunchAsync()
    {
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = AppBrowserSession.ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        });
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            // Best effort: the Playwright driver also ends Chromium when this process's pipe to it closes.
            browser.CloseAsync().Wait(TimeSpan.FromSeconds(10));
            playwright.Dispose();
        };
        return (playwright, browser);
    }
}
