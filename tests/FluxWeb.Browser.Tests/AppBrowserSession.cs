using System.Collections.Concurrent;
using FluxWeb.Testing;
using Microsoft.Playwright;

namespace FluxWeb.Browser.Tests;

/// <summary>
/// Debian's Chromium (no browser download), driven by Playwright, against one running FluxWeb:
/// either the app in this process on Kestrel (<see cref="BrowserSession"/>) or the published
/// executable in a process of its own (<see cref="Published.PublishedAppSession"/>). A flow that
/// uses only what this class offers runs against either; screenshots of failures and of each flow
/// go to the test output's artefacts folder.
/// One Chromium serves every session of the test run (<see cref="SharedChromium"/>); each session's pages
/// live in browser contexts of their own (separate cookies and storage), closed when the session ends.
/// </summary>
public abstract class AppBrowserSession : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private readonly ConcurrentDictionary<string, Lazy<Task>> accounts = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentBag<IBrowserContext> contexts = [];

    public IBrowser Browser { get; private set; } = default!;

    public string BaseUrl { get; private set; } = "";

    public static string ArtefactsDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "artefacts");

    public async Task InitializeAsync()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: the README's test command (./build.sh test) installs Debian's chromium.");
        Directory.CreateDirectory(ArtefactsDirectory);
        // The published app takes minutes to build when the sources changed: the first browser session of the run
        // starts it, so it is built while the flows against the app in this process run.
        Published.PublishedBuild.StartInBackground();

        var browser = SharedChromium.BrowserAsync();
        BaseUrl = (await StartAppAsync()).TrimEnd('/');
        Browser = await browser;
    }

    /// <summary>Starts the app under test and returns its address.</summary>
    protected abstract Task<string> StartAppAsync();

    /// <summary>Creates an account as an operator would (the app's own services, or the published app's CLI), with <see cref="SiteClient.StrongPassword"/>.</summary>
    public abstract Task CreateAccountAsync(string email, string role = "User", string accountType = "Commercial");

    /// <summary><see cref="CreateAccountAsync"/> the first time a flow asks for <paramref name="email"/> in this session.</summary>
    public Task EnsureAccountAsync(string email, string role = "User", string accountType = "Commercial") =>
        accounts.GetOrAdd(email, _ => new Lazy<Task>(() => CreateAccountAsync(email, role, accountType))).Value;

    public async Task<IPage> NewPageAsync(int width = 1440, int height = 900)
    {
        var context = await NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = BaseUrl,
            ViewportSize = new ViewportSize { Width = width, Height = height },
        });
        // A limit, not a delay: every wait returns as soon as its page is ready. 30 s, because the first flows of a
        // fresh clone share the 2 cores with the published app's cold `dotnet publish`, and a sign-in there once took
        // more than 20 s to load (StudioTests, 2026-12-05).
        context.SetDefaultTimeout(30_000);
        return await context.NewPageAsync();
    }

    /// <summary>A fresh browser context (no cookies, no storage) in the shared Chromium, closed with this session.</summary>
    public async Task<IBrowserContext> NewContextAsync(BrowserNewContextOptions options)
    {
        var context = await Browser.NewContextAsync(options);
        contexts.Add(context);
        return context;
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

    /// <summary>Signs in through the login form and waits until the app has left the account pages (for the Studio, by default).</summary>
    public static async Task SignInAsync(IPage page, string email, string returnUrl = "/studio")
    {
        await page.GotoAsync($"/Account/Login?ReturnUrl={Uri.EscapeDataString(returnUrl)}");
        await page.FillAsync("#Input\\.Email", email);
        await page.FillAsync("#Input\\.Password", SiteClient.StrongPassword);
        await page.ClickAsync("[data-testid=login-submit]");
        await page.WaitForURLAsync(url => !url.Contains("/Account/", StringComparison.Ordinal));
    }

    public static async Task ScreenshotAsync(IPage page, string name) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ArtefactsDirectory, $"{name}.png"), FullPage = true });

    public async Task DisposeAsync()
    {
        foreach (var context in contexts)
        {
            await context.CloseAsync();
        }

        await StopAppAsync();
    }

    protected abstract Task StopAppAsync();
}
