using System.Text.Json;
using FluxWeb.Browser.Tests.Published;
using FluxWeb.Testing;
using Microsoft.Playwright;

namespace FluxWeb.Browser.Tests;

/// <summary>Against the published app and its demo models (Apache-2.0 and FLUX Non-Commercial): an administrator created with the CLI creates an account in Chromium, sets its quota and account type; the user sees only the models its licence allows; the admin sees the usage and the audit trail.</summary>
[Collection(PublishedAppCollection.Name)]
public sealed class AdminFlowTests(PublishedAppSession session)
{
    private static ILocator Input(IPage page, string testId) => page.Locator($"input[data-testid={testId}], [data-testid={testId}] input").First;

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
            // The administrator is an operator's: created with the command line, as the README says.
            await session.EnsureAccountAsync("chief@example.com", role: "Admin");
            await AppBrowserSession.SignInAsync(admin, "chief@example.com");

            // Create the account (non-commercial at first), through the admin page.
            await admin.GotoAsync("/admin/users");
            await AppBrowserSession.WaitForCircuitAsync(admin);
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
            await AppBrowserSession.ScreenshotAsync(admin, "admin-users");

            // The user signs in: the licence leaves only the Apache-2.0 model, the admin pages stay shut.
            await AppBrowserSession.SignInAsync(user, "designer@example.com");
            var models = await FetchJsonAsync(user, "GET", "/api/v1/models");
            Assert.Equal(200, models.GetProperty("status").GetInt32());
            var allowed = models.GetProperty("body").EnumerateArray().Where(m => m.GetProperty("allowed").GetBoolean()).Select(m => m.GetProperty("id").GetString()).ToList();
            Assert.Equal([PublishedAppSession.DistilledModel, PublishedAppSession.BaseModel], allowed.Order(StringComparer.Ordinal));
            var refusedModel = models.GetProperty("body").EnumerateArray().Single(m => m.GetProperty("id").GetString() == PublishedAppSession.NonCommercialModel);
            Assert.Contains("licensed for commercial use", refusedModel.GetProperty("reason").GetString(), StringComparison.Ordinal);
            await user.GotoAsync("/admin/models");
            await user.WaitForURLAsync("**/Account/AccessDenied**");

            var queued = await FetchJsonAsync(user, "POST", "/api/v1/generations", new { model = PublishedAppSession.DistilledModel, prompt = "a red chair", width = 256, height = 256 });
            Assert.Equal(202, queued.GetProperty("status").GetInt32());
            var refused = await FetchJsonAsync(user, "POST", "/api/v1/generations", new { model = PublishedAppSession.NonCommercialModel, prompt = "a tampered model id", width = 256, height = 256 });
            Assert.Equal(403, refused.GetProperty("status").GetInt32());

            // The administrator sees the day's usage row and the audit entries.
            await admin.GotoAsync("/admin/usage");
            await AppBrowserSession.WaitForCircuitAsync(admin);
            var usage = admin.Locator("tr", new() { Has = admin.Locator("[data-testid=usage-row][data-email='designer@example.com']") });
            await Assertions.Expect(usage.GetByTestId("usage-images")).ToHaveTextAsync("1");
            await Assertions.Expect(usage.GetByTestId("usage-rejected")).ToHaveTextAsync("1");
            await Assertions.Expect(admin.GetByTestId("usage-chart")).ToBeVisibleAsync();
            await AppBrowserSession.ScreenshotAsync(admin, "admin-usage");

            await admin.GotoAsync("/admin/audit");
            await AppBrowserSession.WaitForCircuitAsync(admin);
            await Input(admin, "audit-user").FillAsync("designer@");
            await Assertions.Expect(admin.Locator("[data-testid=audit-row][data-action=licence-refused]")).ToHaveCountAsync(1);
            await Assertions.Expect(admin.Locator("[data-testid=audit-row][data-action=generate]")).ToHaveCountAsync(1);
            await Assertions.Expect(admin.Locator("[data-testid=audit-row][data-action=sign-in]")).ToHaveCountAsync(1);
            await Assertions.Expect(admin.GetByTestId("audit-table")).ToContainTextAsync("Changed designer@example.com: account type NonCommercial → Commercial.");
            await AppBrowserSession.ScreenshotAsync(admin, "admin-audit");

            // The designer leaves the team: the administrator deletes the account while its Studio is open.
            await user.GotoAsync("/studio");
            await AppBrowserSession.WaitForCircuitAsync(user);
            await admin.GotoAsync("/admin/users");
            await AppBrowserSession.WaitForCircuitAsync(admin);
            await admin.Locator("[data-testid=edit-user][data-email='designer@example.com']").ClickAsync();
            await admin.GetByTestId("delete-user").ClickAsync();
            await Assertions.Expect(admin.GetByTestId("delete-submit")).ToBeDisabledAsync();
            await Input(admin, "delete-confirmation").FillAsync("designer@example.com");
            await admin.GetByTestId("delete-submit").ClickAsync();
            await Assertions.Expect(admin.GetByTestId("users-message")).ToContainTextAsync("designer@example.com: account deleted with its");
            await Assertions.Expect(admin.Locator("[data-testid=user-row][data-email='designer@example.com']")).ToHaveCountAsync(0);
            // Its open page ends and says why; the audit log still tells what the account did, and who deleted it.
            await Assertions.Expect(user).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/Account/Login\\?ended=deleted$"), new() { Timeout = 30_000 });
            await admin.GotoAsync("/admin/audit");
            await AppBrowserSession.WaitForCircuitAsync(admin);
            await Input(admin, "audit-user").FillAsync("designer@");
            await Assertions.Expect(admin.Locator("[data-testid=audit-row][data-action=generate]")).ToHaveCountAsync(1);
            await Assertions.Expect(admin.GetByTestId("audit-table")).ToContainTextAsync("Deleted designer@example.com: account deleted with its");
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(admin, "admin-flow-failure-admin");
            await AppBrowserSession.ScreenshotAsync(user, "admin-flow-failure-user");
            throw;
        }
    }
}
