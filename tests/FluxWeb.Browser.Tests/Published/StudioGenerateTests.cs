using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit.Abstractions;

namespace FluxWeb.Browser.Tests.Published;

/// <summary>
/// The Studio's main flow against the published app and its real demo engine on the CPU: generate
/// with live progress and previews, download, the image in the gallery (detail and a byte-identical
/// download), and a colleague who reaches none of it. It uses only what every
/// <see cref="AppBrowserSession"/> offers, so it runs against the in-process app as well by
/// changing the collection and the session type.
/// </summary>
[Collection(PublishedAppCollection.Name)]
public sealed class StudioGenerateTests(PublishedAppSession session, ITestOutputHelper output)
{
    [Fact]
    public async Task Generate_shows_progress_and_preview_then_the_image_which_downloads_as_png_shows_in_the_gallery_and_stays_private()
    {
        var page = await SignedInStudioAsync("ada@example.com");
        var bob = await session.NewPageAsync();
        try
        {
            await StudioPage.ChooseModelAsync(page, PublishedAppSession.BaseModel);
            // Base variants take steps and guidance; enough steps to watch the job run for a few seconds.
            await page.FillAsync("#studio-steps", "20");
            await Assertions.Expect(page.Locator("#studio-guidance")).ToBeVisibleAsync();
            // 512² rather than a thumbnail: a warm demo model does 256² steps faster than the
            // circuit renders them, and this test is about watching the progress.
            await StudioPage.SetSizeAsync(page, 512, 512);
            await page.FillAsync("#studio-prompt", "a lighthouse at dusk");
            // The real engine reads it on its unconditional pass; the gallery detail shows it below the prompt.
            await page.FillAsync("#studio-negative-prompt", "people, boats");

            // How fast the steps go depends on the machine, so the page itself records every
            // status the running job shows and every preview that loads, and the test reads the
            // record afterwards instead of hoping to look at the right moment.
            await page.EvaluateAsync(StudioPage.RecordRunningJobScript);
            var clock = Stopwatch.StartNew();
            // The keyboard path: Ctrl+Enter from inside the prompt.
            await page.Locator("#studio-prompt").PressAsync("Control+Enter");

            await Assertions.Expect(page.Locator("[data-testid=my-jobs] [data-testid=job]").Or(page.Locator("[data-testid=result]"))).Not.ToHaveCountAsync(0);
            await AppBrowserSession.ScreenshotAsync(page, "studio-running-desktop");

            var result = page.Locator("[data-testid=result]").First;
            await StudioPage.WaitForLoadedImageAsync(result.Locator("[data-testid=result-image]"), "/api/v1/images/", timeoutMs: 60_000);
            StudioPage.Report(output, $"studio: 512², 20 steps on the demo base model (CPU): the result showed {clock.Elapsed.TotalSeconds:F1} s after Ctrl+Enter");
            var record = JsonSerializer.Deserialize<StudioPage.RunningJobRecord>(await page.EvaluateAsync<string>("() => JSON.stringify(window.fluxwebTestRecord)"), JsonSerializerOptions.Web)!;
            StudioPage.Report(output, $"studio: the running job showed {string.Join(" | ", record.Statuses.Select(s => $"{s.Text} @{s.AtMs:F0} ms"))}; previews loaded: {record.Previews.Length}");
            Assert.True(record.ProgressBarShown, "The running job never showed a progress bar.");
            Assert.Contains(record.Statuses, s => Regex.IsMatch(s.Text, "^Running · step ([1-9]|1[0-9]|20) of 20$"));
            Assert.NotEmpty(record.Previews);
            Assert.All(record.Previews, url => Assert.Matches("/api/v1/jobs/[0-9a-f-]{36}/preview\\?step=[0-9]+$", url));
            await Assertions.Expect(page.Locator("[data-testid=my-jobs] [data-testid=job]")).ToHaveCountAsync(0);
            // The finished image takes the stage, with its facts and actions.
            var stage = page.Locator("[data-testid=stage]");
            await Assertions.Expect(stage).ToHaveAttributeAsync("data-showing", "result");
            await Assertions.Expect(stage.Locator("[data-testid=stage-image]")).ToHaveAttributeAsync("data-image-id", (await result.GetAttributeAsync("data-image-id"))!);
            await StudioPage.WaitForLoadedImageAsync(stage.Locator("[data-testid=stage-image]"), "/api/v1/images/");
            await Assertions.Expect(stage.Locator("[data-testid=result-facts]")).ToContainTextAsync("512×512");

            var download = await page.RunAndWaitForDownloadAsync(() => stage.Locator("[data-testid=result-download]").ClickAsync());
            var file = await File.ReadAllBytesAsync((await download.PathAsync())!);
            Assert.True(file.AsSpan().StartsWith(StudioPage.PngSignature), "The download is not a PNG file.");
            Assert.Matches("^fluxweb-[0-9a-f]{32}\\.png$", download.SuggestedFilename);
            using (var png = Image.Load<Rgb24>(file))
            {
                Assert.Equal((512, 512), (png.Width, png.Height));
            }

            // ↑ in an empty prompt brings the last prompt back.
            await page.FillAsync("#studio-prompt", "");
            await page.Locator("#studio-prompt").PressAsync("ArrowUp");
            await Assertions.Expect(page.Locator("#studio-prompt")).ToHaveValueAsync("a lighthouse at dusk");

            // The distilled model hides steps and guidance.
            await StudioPage.ChooseModelAsync(page, PublishedAppSession.DistilledModel);
            await Assertions.Expect(page.Locator("#studio-steps")).ToHaveCountAsync(0);
            await Assertions.Expect(page.Locator("#studio-guidance")).ToHaveCountAsync(0);

            await AppBrowserSession.ScreenshotAsync(page, "studio-desktop-1440x900");
            await page.SetViewportSizeAsync(390, 844);
            await StudioPage.AssertNoSidewaysScrollAsync(page);
            await AppBrowserSession.ScreenshotAsync(page, "studio-phone-390x844");
            await page.ClickAsync("[data-testid=theme-toggle]");
            await AppBrowserSession.ScreenshotAsync(page, "studio-phone-390x844-other-theme");
            await page.SetViewportSizeAsync(1440, 900);
            await AppBrowserSession.ScreenshotAsync(page, "studio-desktop-1440x900-other-theme");

            // The image is in her gallery: through the navigation, first in the grid, thumbnail
            // loaded, and the detail names the prompt and the model.
            var imageUrl = (await stage.Locator("[data-testid=stage-image]").GetAttributeAsync("src"))!;
            var imageId = Guid.Parse(imageUrl.Split('?')[0].Split('/')[^1]);
            await page.GetByRole(AriaRole.Link, new() { Name = "Gallery", Exact = true }).ClickAsync();
            await page.WaitForURLAsync("**/gallery");
            var item = page.Locator("[data-testid=gallery-item]").First;
            await Assertions.Expect(item).ToHaveAttributeAsync("data-image-id", imageId.ToString());
            await StudioPage.WaitForLoadedImageAsync(item.Locator("img"), $"/api/v1/images/{imageId}/thumbnail");
            await item.Locator("[data-testid=gallery-open]").ClickAsync();
            var detail = page.Locator("[data-testid=image-detail]");
            await Assertions.Expect(detail.Locator("[data-testid=detail-prompt]")).ToHaveTextAsync("a lighthouse at dusk");
            await Assertions.Expect(detail.Locator("[data-testid=detail-negative-prompt]")).ToHaveTextAsync("people, boats");
            await Assertions.Expect(detail).ToContainTextAsync(PublishedAppSession.BaseModel);
            var fromGallery = await page.RunAndWaitForDownloadAsync(() => detail.Locator("[data-testid=detail-download]").ClickAsync());
            Assert.Equal(file, await File.ReadAllBytesAsync((await fromGallery.PathAsync())!));
            await page.Keyboard.PressAsync("Escape");

            // A colleague cannot open Ada's image, neither as a page nor through the API.
            await session.EnsureAccountAsync("bob@example.com");
            await AppBrowserSession.SignInAsync(bob, "bob@example.com");
            var asPage = await bob.GotoAsync(imageUrl);
            Assert.Contains(asPage!.Status, new[] { 403, 404 });
            var asApi = await bob.APIRequest.GetAsync($"{imageUrl}?download=true");
            Assert.Contains(asApi.Status, new[] { 403, 404 });
            await bob.GotoAsync("/studio");
            await AppBrowserSession.WaitForCircuitAsync(bob);
            await Assertions.Expect(bob.Locator("[data-testid=results-empty]")).ToBeVisibleAsync();
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(page, "studio-generate-failure");
            await AppBrowserSession.ScreenshotAsync(bob, "studio-generate-failure-bob");
            throw;
        }
    }


    private async Task<IPage> SignedInStudioAsync(string email)
    {
        await session.EnsureAccountAsync(email);
        var page = await session.NewPageAsync();
        await AppBrowserSession.SignInAsync(page, email);
        await page.WaitForURLAsync("**/studio");
        await AppBrowserSession.WaitForCircuitAsync(page);
        return page;
    }
}
