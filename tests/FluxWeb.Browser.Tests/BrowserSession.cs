using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using FluxWeb.Testing;

namespace FluxWeb.Browser.Tests;

/// <summary>
/// The real app on a real port, driven by Debian's Chromium through Playwright (no browser
/// download). Screenshots of failures and of each flow go to the test output's artefacts folder.
/// </summary>
public class BrowserSession : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? playwright;

    public FluxWebFactory Factory { get; private set; } = default!;

    public IBrowser Browser { get; private set; } = default!;

    public string BaseUrl { get; private set; } = "";

    public static string ArtefactsDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "artefacts");

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: the README's test command (./build.sh test) installs Debian's chromium.");
        Directory.CreateDirectory(ArtefactsDirectory);

        Factory = CreateFactory();
        Factory.UseKestrel(0);
        Factory.StartServer();
        var addresses = Factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!;
        BaseUrl = addresses.Addresses.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/');

        playwright = await Playwright.CreateAsync();
        Browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        });
    }

    /// <summary>The app under test; a session for a feature may configure it (e.g. a fake engine).</summary>
    protected virtual FluxWebFactory CreateFactory() => new();

    public async Task<IPage> NewPageAsync(int width = 1440, int height = 900)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = BaseUrl,
            ViewportSize = new ViewportSize { Width = width, Height = height },
        });
        context.SetDefaultTimeout(20_000);
        return await context.NewPageAsync();
    }

    /// <summary>Blazor replaces the prerendered page when the circuit starts; clicks before that are lost.</summary>
    public static async Task WaitForCircuitAsync(IPage page) =>
        await page.Locator("[data-testid=circuit-ready]").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Attached });

    /// <summary>Registers through the real form (strong password) and waits for the Studio's circuit.</summary>
    public static async Task RegisterAsync(IPage page, string email)
    {
        await page.GotoAsync("/Account/Register");
        await FillRegistrationAsync(page, email);
        await page.WaitForURLAsync("**/studio");
        await WaitForCircuitAsync(page);
    }

    public static async Task FillRegistrationAsync(IPage page, string email)
    {
        await page.FillAsync("#Input\\.Email", email);
        await page.FillAsync("#Input\\.Password", SiteClient.StrongPassword);
        await page.FillAsync("#Input\\.ConfirmPassword", SiteClient.StrongPassword);
        await page.ClickAsync("[data-testid=register-submit]");
    }

    public static async Task ScreenshotAsync(IPage page, string name) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ArtefactsDirectory, $"{name}.png"), FullPage = true });

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        playwright?.Dispose();
        Factory?.Dispose();
    }
}
