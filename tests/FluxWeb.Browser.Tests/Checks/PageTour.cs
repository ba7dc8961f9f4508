using Microsoft.Playwright;

namespace FluxWeb.Browser.Tests.Checks;

/// <summary>One stop of a tour: a page (or a state of it) with what shows that it has loaded its data.</summary>
public sealed record TourStop(string Name, string Path, string Ready, Func<IPage, Task>? Then = null)
{
    public async Task VisitAsync(IPage page)
    {
        await page.GotoAsync(Path);
        // The account pages are plain HTML forms, without a circuit.
        if (!Path.StartsWith("/Account/", StringComparison.Ordinal))
        {
            await AppBrowserSession.WaitForCircuitAsync(page);
        }

        await page.Locator(Ready).First.WaitForAsync();
        if (Then is not null)
        {
            await Then(page);
        }
    }
}

/// <summary>The pages of <see cref="LivedInBrowserSession"/>, with its data on them.</summary>
public static class PageTour
{
    public static IReadOnlyList<TourStop> SignIn { get; } =
    [
        new("sign-in", "/Account/Login", "[data-testid=login-submit]"),
        new("sign-in-session-ended", "/Account/Login?ended=role", "[data-testid=session-ended]"),
        new("sign-in-refused", "/Account/Login", "[data-testid=login-submit]", async page =>
        {
            await page.FillAsync("#Input\\.Email", LivedInBrowserSession.DanaEmail);
            await page.FillAsync("#Input\\.Password", "not-the-password");
            await page.ClickAsync("[data-testid=login-submit]");
            await page.Locator("[data-testid=status-message]").WaitForAsync();
        }),
        new("register-closed", "/Account/Register", "[data-testid=registration-closed]"),
    ];

    /// <summary>Dana's pages: her jobs in every state, her images, prompts and key.</summary>
    public static IReadOnlyList<TourStop> User(Guid imageId) =>
    [
        new("studio", "/studio", "[data-testid=my-jobs] [data-testid=job][data-state=Running]"),
        new("gallery", "/gallery", "[data-testid=gallery-item]"),
        new("image-detail", $"/gallery/{imageId}", "[data-testid=image-detail]"),
        new("history", "/history", "[data-testid=history-entry]"),
        new("account", "/Account/Manage", "[data-testid=manage-email]"),
        new("api-keys", "/account/api-keys", "[data-testid=key-revoke]"),
        new("usage", "/account/usage", "[data-testid=usage-day]"),
    ];

    public static IReadOnlyList<TourStop> Admin(string outputFile) =>
    [
        new("admin-users", "/admin/users", $"[data-testid=user-row][data-email='{LivedInBrowserSession.DanaEmail}']"),
        new("admin-user-editor", "/admin/users", $"[data-testid=user-row][data-email='{LivedInBrowserSession.DanaEmail}']", async page =>
        {
            await page.ClickAsync("[data-testid=new-user]");
            await page.Locator($"[data-testid=edit-user][data-email='{LivedInBrowserSession.DanaEmail}']").ClickAsync();
            await page.Locator("[data-testid=user-editor] [data-testid=user-keys]").WaitForAsync();
        }),
        new("admin-models", "/admin/models", $"[data-testid=model-row][data-model='{LivedInBrowserSession.BrokenModelId}']"),
        new("admin-usage", "/admin/usage", "[data-testid=usage-row]"),
        new("admin-audit", "/admin/audit", "[data-testid=audit-row]"),
        new("admin-queue", "/admin/queue", "[data-testid=queue-row][data-state=Running]"),
        new("admin-content", "/admin/content", "[data-testid=review-item]"),
        new("admin-storage", "/admin/storage", "[data-testid=storage-missing-list]"),
        new("admin-check-image", "/admin/check-image", "[data-testid=check-file]", async page =>
        {
            await page.Locator("[data-testid=check-file]").SetInputFilesAsync(outputFile);
            await page.Locator("[data-testid=traced-job]").WaitForAsync();
        }),
    ];
}
