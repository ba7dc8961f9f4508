using FluxWeb.Testing;
using Microsoft.Playwright;
using SixLabors.ImageSharp;

namespace FluxWeb.Browser.Tests.Published;

/// <summary>
/// The Studio remembers: the form a person leaves comes back after a reload and in a new tab
/// (prompt, model, size, steps, seed, count, references), in the published app.
/// </summary>
[Collection(PublishedAppCollection.Name)]
public sealed class StudioMemoryTests(PublishedAppSession session)
{
    [Fact]
    public async Task The_form_survives_a_reload_and_opens_the_same_in_a_new_tab()
    {
        const string email = "memory@example.com";
        await session.EnsureAccountAsync(email);
        var page = await session.NewPageAsync();
        var folder = Directory.CreateTempSubdirectory("fluxweb-memory-");
        try
        {
            await AppBrowserSession.SignInAsync(page, email);
            await AppBrowserSession.WaitForCircuitAsync(page);

            await StudioPage.ChooseModelAsync(page, PublishedAppSession.BaseModel);
            await page.FillAsync("#studio-steps", "12");
            await StudioPage.SetSizeAsync(page, 768, 512);
            await page.Locator("[data-testid=seed-mode]").GetByText("Locked").ClickAsync();
            await page.FillAsync("#studio-seed", "4242");
            await page.FillAsync("#studio-count", "3");
            var pngPath = Path.Combine(folder.FullName, "room.png");
            using (var picture = StudioPage.Checkerboard(320, 240))
            {
                await picture.SaveAsPngAsync(pngPath);
            }

            await StudioPage.WaitForUploadsReadyAsync(page, "reference-drop");
            await page.SetInputFilesAsync("[data-testid=reference-drop-input]", pngPath);
            var reference = page.Locator("[data-testid=reference]");
            await Assertions.Expect(reference).ToHaveCountAsync(1);
            var referenceId = (await reference.GetAttributeAsync("data-image-id"))!;
            // Last, so every other change has been kept by the time the prompt shows.
            await page.FillAsync("#studio-prompt", "a quiet library at night");
            await page.WaitForFunctionAsync(
                "key => (localStorage.getItem(key) ?? '').includes('a quiet library at night')",
                await DraftKeyAsync(page));

            await page.ReloadAsync();
            await AppBrowserSession.WaitForCircuitAsync(page);
            await AssertFormAsync(page, referenceId);
            await AppBrowserSession.ScreenshotAsync(page, "studio-memory-after-reload");

            var tab = await page.Context.NewPageAsync();
            await tab.GotoAsync("/studio");
            await AppBrowserSession.WaitForCircuitAsync(tab);
            await AssertFormAsync(tab, referenceId);
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(page, "studio-memory-failure");
            throw;
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Signing_out_or_deleting_the_account_leaves_nothing_of_the_person_in_this_browser()
    {
        const string email = "shared-computer@example.com";
        await session.EnsureAccountAsync(email);
        var page = await session.NewPageAsync();
        try
        {
            await AppBrowserSession.SignInAsync(page, email);
            await AppBrowserSession.WaitForCircuitAsync(page);
            await page.FillAsync("#studio-prompt", "a private prompt about the merger");
            const string FindDraftKey = "() => Object.keys(localStorage).find(k => k.startsWith('fluxweb.studio.draft.') && localStorage.getItem(k).includes('the merger')) ?? null";
            await page.WaitForFunctionAsync(FindDraftKey);
            var key = await page.EvaluateAsync<string>(FindDraftKey);
            var userId = key["fluxweb.studio.draft.".Length..];
            // A dismissal is kept per user as well; someone else's entry on this browser is theirs, and signing out leaves it.
            await page.EvaluateAsync("id => localStorage.setItem('fluxweb.myjobs.dismissed.' + id, '[]')", userId);
            await page.EvaluateAsync("() => localStorage.setItem('fluxweb.studio.draft.someone-else', '{}')");

            await page.Locator("[data-testid=sign-out]").ClickAsync();
            await page.WaitForURLAsync("**/Account/Login");

            var left = await page.EvaluateAsync<string[]>("() => Object.keys(localStorage)");
            Assert.DoesNotContain(left, k => k.Contains(userId, StringComparison.Ordinal));
            var values = await page.EvaluateAsync<string[]>("() => Object.keys(localStorage).map(k => localStorage.getItem(k) ?? '')");
            Assert.DoesNotContain(values, v => v.Contains("merger", StringComparison.Ordinal));
            Assert.Contains("fluxweb.studio.draft.someone-else", left);

            // The next person on this computer starts with an empty form.
            const string next = "next-at-the-desk@example.com";
            await session.EnsureAccountAsync(next);
            await AppBrowserSession.SignInAsync(page, next);
            await AppBrowserSession.WaitForCircuitAsync(page);
            await Assertions.Expect(page.Locator("#studio-prompt")).ToHaveValueAsync("");

            // Deleting one's account from this browser leaves nothing of it here either.
            await page.FillAsync("#studio-prompt", "the next person's own brief");
            const string FindNextDraftKey = "() => Object.keys(localStorage).find(k => k.startsWith('fluxweb.studio.draft.') && localStorage.getItem(k).includes('own brief')) ?? null";
            await page.WaitForFunctionAsync(FindNextDraftKey);
            var nextUserId = (await page.EvaluateAsync<string>(FindNextDraftKey))["fluxweb.studio.draft.".Length..];
            await page.GotoAsync("/Account/Manage");
            await page.FillAsync("#DeleteInput\\.Password", SiteClient.StrongPassword);
            await page.FillAsync("#DeleteInput\\.ConfirmEmail", next);
            await page.Locator("[data-testid=delete-account]").ClickAsync();
            await page.WaitForURLAsync("**/Account/Login");
            await Assertions.Expect(page.Locator("[data-testid=status-message]")).ToHaveTextAsync("Your account and everything in it have been deleted.");
            Assert.DoesNotContain(await page.EvaluateAsync<string[]>("() => Object.keys(localStorage)"), k => k.Contains(nextUserId, StringComparison.Ordinal));
            Assert.DoesNotContain(await page.EvaluateAsync<string[]>("() => Object.keys(localStorage).map(k => localStorage.getItem(k) ?? '')"), v => v.Contains("own brief", StringComparison.Ordinal));
            Assert.Contains("fluxweb.studio.draft.someone-else", await page.EvaluateAsync<string[]>("() => Object.keys(localStorage)"));
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(page, "studio-sign-out-storage-failure");
            throw;
        }
    }

    private static async Task<string> DraftKeyAsync(IPage page) =>
        await page.EvaluateAsync<string>("() => Object.keys(localStorage).find(k => k.startsWith('fluxweb.studio.draft.')) ?? 'fluxweb.studio.draft.'");

    private static async Task AssertFormAsync(IPage page, string referenceId)
    {
        await Assertions.Expect(page.Locator("#studio-prompt")).ToHaveValueAsync("a quiet library at night");
        // Only the base model has steps and says "Base" in its facts.
        await Assertions.Expect(page.Locator("[data-testid=model-facts]")).ToContainTextAsync("Base ·");
        await Assertions.Expect(page.Locator("#studio-steps")).ToHaveValueAsync("12");
        await Assertions.Expect(page.Locator("#studio-width")).ToHaveValueAsync("768");
        await Assertions.Expect(page.Locator("#studio-height")).ToHaveValueAsync("512");
        await Assertions.Expect(page.Locator("#studio-seed")).ToHaveValueAsync("4242");
        await Assertions.Expect(page.Locator("#studio-count")).ToHaveValueAsync("3");
        await Assertions.Expect(page.Locator("[data-testid=reference]")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("[data-testid=reference]")).ToHaveAttributeAsync("data-image-id", referenceId);
    }
}
