using System.Text.Json;
using FluxWeb.Testing;
using Microsoft.Playwright;

namespace FluxWeb.Browser.Tests;

/// <summary>The app with the fake engine and the two test models; the first account to register becomes the administrator.</summary>
public sealed class AdminBrowserSession : BrowserSession
{
    public FakeImageGenerator Engine { get; } = new();

    protected override FluxWebFactory CreateFactory() => new FluxWebFactory().WithEngine(Engine);
}

/// <summary>An administrator creates an account in Chromium, sets its quota and account type; the user sees only the models its licence allows; the admin sees the usage and the audit trail.</summary>
public sealed class AdminFlowTests(AdminBrowserSession session) : IClassFixture<AdminBrowserSession>
{
    private static ILocator Input(IPage page, string testId) => page.Locator($"input[data-testid={testId}], [data-testid={testId}] input").First;

    private static async Task SignInAsync(IPage page, string email)
    {
        await page.GotoAsync("/Account/Login");
        await page.FillAsync("#Input\\.Email", email);
        await page.FillAsync("#Input\\.Password", SiteClient.StrongPassword);
        await page.ClickAsync("[data-testid=login-submit]");
        // Signed in: redirected away from the account pages (to the Studio at "/").
        await page.WaitForURLAsync(url => !url.Contains("/Account/", StringComparison.Ordinal));
    }

    private static async Task<JsonElement> FetchJsonAsync(IPage page, string method, string url, object? body = null) =>
        await page.EvaluateAsync<JsonElement>(
            "async ([method, url, body]) => { const r = await fetch(url, { method, headers: { 'X-FluxWeb-Request': '1', 'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined }); return { status: r.status, body: await r.json() }; }",
            new object?[] { method, url, body });

    [Fact]
    public async Task An_admin_creates_a_commercial_user_with_a_quota_who_sees_only_allowed_models_and_the_admin_sees_usage_and_audit()
    {
        var admin = await session.NewPageAsync();
        var user = await session.NewPageAsync();
        try
        {
            await admin.GotoAsync("/Account/Register");
            await admin.FillAsync("#Input\\.Email", "chief@example.com");
            await admin.FillAsync("#Input\\.Password", SiteClient.StrongPassword);
            await admin.FillAsync("#Input\\.ConfirmPassword", SiteClient.StrongPassword);
            await admin.ClickAsync("[data-testid=register-submit]");
            await admin.WaitForURLAsync("**/studio");

            // Create the account (non-commercial at first), through the admin page.
            await admin.GotoAsync("/admin/users");
            await BrowserSession.WaitForCircuitAsync(admin);
            await admin.GetByTestId("new-user").ClickAsync();
            await Input(admin, "new-email").FillAsync("designer@example.com");
            await Input(admin, "new-password").FillAsync(SiteClient.StrongPassword);
            await admin.GetByTestId("new-account-type").GetByText("Non-commercial").ClickAsync();
            await admin.GetByTestId("create-submit").ClickAsync();
            await Assertions.Expect(admin.GetByTestId("users-message")).ToContainTextAsync("Created designer@example.com (User, NonCommercial)");

            // Then a quota and the Commercial account type.
            await admin.Locator("[data-testid=edit-user][data-email='designer@example.com']").ClickAsync();
            await Input(admin, "edit-images-per-day").FillAsync("3");
            await admin.GetByTestId("edit-account-type").GetByText("Commercial", new() { Exact = true }).ClickAsync();
            await admin.GetByTestId("save-user").ClickAsync();
            await Assertions.Expect(admin.GetByTestId("users-message")).ToContainTextAsync("account type NonCommercial → Commercial");
            var row = admin.Locator("tr", new() { Has = admin.Locator("[data-testid=user-row][data-email='designer@example.com']") });
            await Assertions.Expect(row).ToContainTextAsync("Commercial");
            await Assertions.Expect(row.Locator("td[data-label='Images/day']")).ToHaveTextAsync("3");
            await BrowserSession.ScreenshotAsync(admin, "admin-users");

            // The user signs in: the licence leaves only the Apache-2.0 model, the admin pages stay shut.
            await SignInAsync(user, "designer@example.com");
            var models = await FetchJsonAsync(user, "GET", "/api/v1/models");
            Assert.Equal(200, models.GetProperty("status").GetInt32());
            var allowed = models.GetProperty("body").EnumerateArray().Where(m => m.GetProperty("allowed").GetBoolean()).Select(m => m.GetProperty("id").GetString()).ToList();
            Assert.Equal([QueueHost.ModelId], allowed);
            var refusedModel = models.GetProperty("body").EnumerateArray().Single(m => m.GetProperty("id").GetString() == QueueHost.OtherModelId);
            Assert.Contains("licensed for commercial use", refusedModel.GetProperty("reason").GetString(), StringComparison.Ordinal);
            await user.GotoAsync("/admin/models");
            await user.WaitForURLAsync("**/Account/AccessDenied**");

            var queued = await FetchJsonAsync(user, "POST", "/api/v1/generations", new { model = QueueHost.ModelId, prompt = "a red chair" });
            Assert.Equal(202, queued.GetProperty("status").GetInt32());
            var refused = await FetchJsonAsync(user, "POST", "/api/v1/generations", new { model = QueueHost.OtherModelId, prompt = "a tampered model id" });
            Assert.Equal(403, refused.GetProperty("status").GetInt32());

            // The administrator sees the day's usage row and the audit entries.
            await admin.GotoAsync("/admin/usage");
            await BrowserSession.WaitForCircuitAsync(admin);
            var usage = admin.Locator("tr", new() { Has = admin.Locator("[data-testid=usage-row][data-email='designer@example.com']") });
            await Assertions.Expect(usage.GetByTestId("usage-images")).ToHaveTextAsync("1");
            await Assertions.Expect(usage.GetByTestId("usage-rejected")).ToHaveTextAsync("1");
            await Assertions.Expect(admin.GetByTestId("usage-chart")).ToBeVisibleAsync();
            await BrowserSession.ScreenshotAsync(admin, "admin-usage");

            await admin.GotoAsync("/admin/audit");
            await BrowserSession.WaitForCircuitAsync(admin);
            await Input(admin, "audit-user").FillAsync("designer@");
            await Assertions.Expect(admin.Locator("[data-testid=audit-row][data-action=licence-refused]")).ToHaveCountAsync(1);
            await Assertions.Expect(admin.Locator("[data-testid=audit-row][data-action=generate]")).ToHaveCountAsync(1);
            await Assertions.Expect(admin.Locator("[data-testid=audit-row][data-action=sign-in]")).ToHaveCountAsync(1);
            await Assertions.Expect(admin.GetByTestId("audit-table")).ToContainTextAsync("Changed designer@example.com: account type NonCommercial → Commercial.");
            await BrowserSession.ScreenshotAsync(admin, "admin-audit");
        }
        catch
        {
            await BrowserSession.ScreenshotAsync(admin, "admin-flow-failure-admin");
            await BrowserSession.ScreenshotAsync(user, "admin-flow-failure-user");
            throw;
        }
    }
}
