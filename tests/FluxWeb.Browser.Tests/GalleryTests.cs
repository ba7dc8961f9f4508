using System.Diagnostics;
using System.Text.RegularExpressions;
using FluxWeb.Application.Accounts;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace FluxWeb.Browser.Tests;

/// <summary>
/// The gallery in Chromium with images the queue really made (fake engine): thumbnails in the
/// grid, the detail dialog, a real download, favourites and the favourites filter, delete after
/// confirmation, keyboard use, phone and desktop widths in both themes, and a colleague who
/// cannot reach any of it.
/// </summary>
public sealed partial class GalleryTests(QueueBrowserSession session) : IClassFixture<QueueBrowserSession>
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private static ILocator Item(IPage page, Guid imageId) => page.Locator($"[data-testid=gallery-item][data-image-id='{imageId}']");

    /// <summary>An image the browser really fetched and decoded through the authorised endpoint.</summary>
    private static Task WaitForLoadedAsync(ILocator image) =>
        image.EvaluateAsync("img => img.complete && img.naturalWidth > 0 ? true : new Promise((ok, fail) => { img.onload = () => ok(true); img.onerror = () => fail('image did not load'); })");

    private static Task<int> GridColumnsAsync(IPage page) =>
        page.Locator("[data-testid=gallery-grid]").EvaluateAsync<int>("grid => getComputedStyle(grid).gridTemplateColumns.split(' ').length");

    private async Task<Guid> GenerateAsync(string ownerId, string prompt, ulong seed)
    {
        var services = session.Factory.Services;
        var submitted = await services.GetRequiredService<GenerationService>().SubmitAsync(ownerId, QueueHost.Request(prompt, seed: seed));
        Assert.True(submitted.Accepted, submitted.Error);
        var jobs = services.GetRequiredService<JobService>();
        var owner = new JobActor(ownerId, false);
        JobView? last = null;
        var job = await Eventually.Value(
            async () => last = await jobs.GetAsync(owner, submitted.JobIds[0]),
            j => j is { State: JobState.Succeeded, OutputImageId: not null },
            () => $"The job is {last?.State}: {last?.Error}");
        return job!.OutputImageId!.Value;
    }

    [Fact]
    public async Task The_owner_browses_downloads_favourites_and_deletes_and_a_colleague_reaches_nothing()
    {
        var timer = Stopwatch.StartNew();
        string adaId;
        await using (var scope = session.Factory.Services.CreateAsyncScope())
        {
            // The first account becomes the administrator; Ada and Bob are ordinary users.
            await scope.ServiceProvider.GetRequiredService<AccountService>().RegisterAsync("admin@example.com", SiteClient.StrongPassword);
        }

        var ada = await session.NewPageAsync();
        var bob = await session.NewPageAsync();
        try
        {
            await BrowserSession.RegisterAsync(ada, "ada@example.com");
            await BrowserSession.RegisterAsync(bob, "bob@example.com");
            await using (var scope = session.Factory.Services.CreateAsyncScope())
            {
                adaId = (await scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>().FindByEmailAsync("ada@example.com"))!.Id;
            }

            var fox = await GenerateAsync(adaId, "a red fox in the snow", seed: 11);
            var lighthouse = await GenerateAsync(adaId, "a lighthouse at dusk", seed: 7);
            var stored = await session.Factory.Services.GetRequiredService<ImageStore>().FindAsync(new JobActor(adaId, false), lighthouse);
            Console.WriteLine($"gallery browser test: accounts and two images ready after {timer.ElapsedMilliseconds} ms");

            // The grid: newest first, thumbnails fetched from the thumbnail endpoint.
            await ada.GotoAsync("/gallery");
            await BrowserSession.WaitForCircuitAsync(ada);
            await Assertions.Expect(ada.Locator("[data-testid=gallery-item]")).ToHaveCountAsync(2);
            Assert.Equal(lighthouse.ToString(), await ada.Locator("[data-testid=gallery-item]").First.GetAttributeAsync("data-image-id"));
            await WaitForLoadedAsync(Item(ada, lighthouse).Locator("img"));
            await WaitForLoadedAsync(Item(ada, fox).Locator("img"));
            Assert.EndsWith($"/api/v1/images/{lighthouse}/thumbnail", await Item(ada, lighthouse).Locator("img").GetAttributeAsync("src"), StringComparison.Ordinal);
            Assert.Equal(5, await GridColumnsAsync(ada));
            await BrowserSession.ScreenshotAsync(ada, "gallery-1440x900-light");
            // The filter row stays one text line high (the date range picker once stretched to 230 px).
            var filtersHeight = await ada.Locator("[data-testid=gallery-filters]").EvaluateAsync<double>("e => e.getBoundingClientRect().height");
            Assert.True(filtersHeight < 120, $"The filter row is {filtersHeight} px high at 1440 px.");

            // Keyboard: the thumbnail is a button; Enter opens the detail, Escape closes it.
            await Item(ada, lighthouse).Locator("[data-testid=gallery-open]").FocusAsync();
            await ada.Keyboard.PressAsync("Enter");
            var detail = ada.Locator("[data-testid=image-detail]");
            await Assertions.Expect(detail.Locator("[data-testid=detail-prompt]")).ToHaveTextAsync("a lighthouse at dusk");
            await Assertions.Expect(detail.Locator("[data-testid=detail-licence]")).ToContainTextAsync("Apache-2.0");
            await WaitForLoadedAsync(detail.Locator("[data-testid=detail-image]"));
            await BrowserSession.ScreenshotAsync(ada, "gallery-detail-1440x900-light");

            // The download is the stored PNG, byte for byte (watermark and Content Credentials kept).
            var download = await ada.RunAndWaitForDownloadAsync(() => detail.Locator("[data-testid=detail-download]").ClickAsync());
            var downloaded = await File.ReadAllBytesAsync((await download.PathAsync())!);
            Assert.Equal(PngSignature, downloaded[..8]);
            Assert.Equal(await File.ReadAllBytesAsync(stored!.FullPath), downloaded);
            Assert.Equal($"fluxweb-{lighthouse:N}.png", download.SuggestedFilename);

            // A favourite set in the dialog shows in the grid behind it.
            await detail.Locator("[data-testid=detail-favourite]").ClickAsync();
            await Assertions.Expect(detail.Locator("[data-testid=detail-favourite]")).ToHaveAttributeAsync("aria-pressed", "true");
            await ada.Keyboard.PressAsync("Escape");
            await Assertions.Expect(detail).ToHaveCountAsync(0);
            await Assertions.Expect(Item(ada, lighthouse).Locator("[data-testid=gallery-favourite]")).ToHaveAttributeAsync("aria-pressed", "true");

            await ada.Locator("[data-testid=gallery-favourites-only]").ClickAsync();
            await Assertions.Expect(ada.Locator("[data-testid=gallery-item]")).ToHaveCountAsync(1);
            await Assertions.Expect(ada).ToHaveURLAsync(FavouritesAddress());
            await ada.ReloadAsync();
            await BrowserSession.WaitForCircuitAsync(ada);
            await Assertions.Expect(ada.Locator("[data-testid=gallery-item]")).ToHaveCountAsync(1);
            await ada.Locator("[data-testid=gallery-favourites-only]").ClickAsync();
            await Assertions.Expect(ada.Locator("[data-testid=gallery-item]")).ToHaveCountAsync(2);

            // Dark theme, then the phone.
            await ada.ClickAsync("[data-testid=theme-toggle]");
            await BrowserSession.ScreenshotAsync(ada, "gallery-1440x900-dark");
            await ada.SetViewportSizeAsync(390, 844);
            await Assertions.Expect(ada.Locator("[data-testid=gallery-item]")).ToHaveCountAsync(2);
            Assert.Equal(2, await GridColumnsAsync(ada));
            await BrowserSession.ScreenshotAsync(ada, "gallery-390x844-dark");
            await Item(ada, fox).Locator("[data-testid=gallery-open]").ClickAsync();
            await Assertions.Expect(detail.Locator("[data-testid=detail-prompt]")).ToHaveTextAsync("a red fox in the snow");
            // Full screen on a phone: the dialog covers the viewport's width.
            // The layout width, not the bounding box: the dialog opens with a scale animation.
            var dialogWidth = await ada.Locator(".mud-dialog").EvaluateAsync<double>("d => parseFloat(getComputedStyle(d).width)");
            Assert.True(dialogWidth >= 389, $"The detail dialog is {dialogWidth} px wide on a 390 px phone.");
            await BrowserSession.ScreenshotAsync(ada, "gallery-detail-390x844-dark");
            // Full screen covers the app bar, so the theme is switched with the dialog closed.
            await ada.Locator("[data-testid=detail-close]").ClickAsync();
            await Assertions.Expect(detail).ToHaveCountAsync(0);
            await ada.ClickAsync("[data-testid=theme-toggle]");
            await BrowserSession.ScreenshotAsync(ada, "gallery-390x844-light");
            await Item(ada, fox).Locator("[data-testid=gallery-open]").ClickAsync();
            await Assertions.Expect(detail.Locator("[data-testid=detail-prompt]")).ToHaveTextAsync("a red fox in the snow");
            await BrowserSession.ScreenshotAsync(ada, "gallery-detail-390x844-light");
            await ada.Locator("[data-testid=detail-close]").ClickAsync();
            await Assertions.Expect(detail).ToHaveCountAsync(0);

            // Delete asks first; the file is gone afterwards.
            var foxFile = (await session.Factory.Services.GetRequiredService<ImageStore>().FindAsync(new JobActor(adaId, false), fox))!.FullPath;
            await Item(ada, fox).Locator("[data-testid=gallery-actions] button").ClickAsync();
            await ada.Locator("[data-testid=gallery-delete]").ClickAsync();
            var confirm = ada.Locator(".mud-dialog");
            await Assertions.Expect(confirm).ToContainTextAsync(GalleryConfirmTitle);
            await BrowserSession.ScreenshotAsync(ada, "gallery-delete-confirm-390x844");
            await confirm.GetByRole(AriaRole.Button, new() { Name = "Delete", Exact = true }).ClickAsync();
            await Assertions.Expect(Item(ada, fox)).ToHaveCountAsync(0);
            await Assertions.Expect(ada.Locator("[data-testid=gallery-item]")).ToHaveCountAsync(1);
            Assert.False(File.Exists(foxFile));

            // Bob: Ada's image, thumbnail and detail page are not there for him.
            foreach (var url in new[] { $"/api/v1/images/{lighthouse}", $"/api/v1/images/{lighthouse}/thumbnail", $"/api/v1/images/{lighthouse}?download=true" })
            {
                var response = await bob.Context.APIRequest.GetAsync(url);
                Assert.True(response.Status is 403 or 404, $"Bob: GET {url} returned {response.Status}");
            }

            await bob.GotoAsync($"/gallery/{lighthouse}");
            await BrowserSession.WaitForCircuitAsync(bob);
            await Assertions.Expect(bob.Locator("[data-testid=detail-missing]")).ToBeVisibleAsync();
            await bob.GotoAsync("/gallery");
            await BrowserSession.WaitForCircuitAsync(bob);
            await Assertions.Expect(bob.Locator("[data-testid=gallery-empty]")).ToContainTextAsync("You have no images yet");
            Console.WriteLine($"gallery browser test: done in {timer.ElapsedMilliseconds} ms");
        }
        catch
        {
            await BrowserSession.ScreenshotAsync(ada, "gallery-failure-ada");
            await BrowserSession.ScreenshotAsync(bob, "gallery-failure-bob");
            throw;
        }
    }

    private const string GalleryConfirmTitle = "Delete this image?";

    [GeneratedRegex("/gallery\\?favourites=true$")]
    private static partial Regex FavouritesAddress();
}
