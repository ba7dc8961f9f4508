using FluxWeb.Testing;
using Microsoft.Playwright;

namespace FluxWeb.Browser.Tests.Published;

/// <summary>
/// A fresh install as an operator makes one: the published app with an administrator and a user made through its
/// CLI, and no model at all.
/// </summary>
public sealed class FreshInstallSession : AppBrowserSession
{
    public const string AdminEmail = "first-admin@example.com";
    public const string UserEmail = "first-user@example.com";

    private PublishedApp? app;

    protected override async Task<string> StartAppAsync()
    {
        app = await PublishedApp.CreateAsync("fresh-install-app");
        await app.RunCommandAsync(new Dictionary<string, string> { ["FLUXWEB_ADMIN_PASSWORD"] = SiteClient.StrongPassword }, "users", "create-admin", "--email", AdminEmail);
        await CreateAccountAsync(UserEmail);
        await app.StartAsync();
        return app.BaseUrl;
    }

    public override async Task CreateAccountAsync(string email, string role = "User", string accountType = "Commercial") =>
        await app!.RunCommandAsync(
            new Dictionary<string, string> { ["FLUXWEB_USER_PASSWORD"] = SiteClient.StrongPassword },
            "users", "create", "--email", email, "--role", role, "--account-type", accountType);

    protected override async Task StopAppAsync()
    {
        if (app is not null)
        {
            await app.DisposeAsync();
        }
    }
}

/// <summary>
/// The first run in a browser, against the published app with no model: a user is told to ask an administrator;
/// the administrator installs the demo model from the Studio itself, and Generate becomes usable there.
/// </summary>
public sealed class FirstRunPublishedTests(FreshInstallSession session) : IClassFixture<FreshInstallSession>
{
    [Fact]
    public async Task On_a_fresh_install_the_admin_installs_the_demo_model_from_the_Studio_and_a_user_is_told_to_ask_an_admin()
    {
        var user = await session.NewPageAsync();
        var admin = await session.NewPageAsync();
        try
        {
            // A user can do nothing about it, and is told who can.
            await AppBrowserSession.SignInAsync(user, FreshInstallSession.UserEmail);
            await AppBrowserSession.WaitForCircuitAsync(user);
            var userNotice = user.Locator("[data-testid=studio-no-models]");
            await Assertions.Expect(userNotice).ToContainTextAsync("No model is installed on this server yet.");
            await Assertions.Expect(userNotice).ToContainTextAsync("Ask an administrator to install one");
            await Assertions.Expect(user.Locator("[data-testid=studio-install-demo]")).ToHaveCountAsync(0);
            await Assertions.Expect(user.Locator("[data-testid=generate]")).ToBeDisabledAsync();
            await AppBrowserSession.ScreenshotAsync(user, "first-run-published-user");

            // The administrator gets the button, and Generate stays off until a model is usable.
            await AppBrowserSession.SignInAsync(admin, FreshInstallSession.AdminEmail);
            await AppBrowserSession.WaitForCircuitAsync(admin);
            var install = admin.Locator("[data-testid=studio-install-demo]");
            await Assertions.Expect(install).ToHaveTextAsync("Install the demo model");
            await Assertions.Expect(admin.Locator("[data-testid=studio-install-instructions]")).ToHaveAttributeAsync("href", "admin/models#install-models");
            var generate = admin.Locator("[data-testid=generate]");
            await Assertions.Expect(generate).ToBeDisabledAsync();
            await AppBrowserSession.ScreenshotAsync(admin, "first-run-published-admin");

            await install.ClickAsync();
            await Assertions.Expect(admin.Locator("[data-testid=studio-no-models]")).ToHaveCountAsync(0, new() { Timeout = 180_000 });
            await Assertions.Expect(generate).ToBeEnabledAsync();
            await Assertions.Expect(admin.Locator("[data-testid=demo-badge]")).ToBeVisibleAsync();
            await AppBrowserSession.ScreenshotAsync(admin, "first-run-published-admin-installed");

            // The user's Studio has it too after a reload.
            await user.ReloadAsync();
            await AppBrowserSession.WaitForCircuitAsync(user);
            await Assertions.Expect(user.Locator("[data-testid=studio-no-models]")).ToHaveCountAsync(0);
            await Assertions.Expect(user.Locator("[data-testid=generate]")).ToBeEnabledAsync();
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(admin, "first-run-published-failure-admin");
            await AppBrowserSession.ScreenshotAsync(user, "first-run-published-failure-user");
            throw;
        }
    }
}
