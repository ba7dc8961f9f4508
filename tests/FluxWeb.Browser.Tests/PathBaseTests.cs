using FluxWeb.Testing;
using Microsoft.Playwright;
using SixLabors.ImageSharp;

namespace FluxWeb.Browser.Tests;

/// <summary>The app published under <c>/fluxweb</c> (<c>ReverseProxy:PathBase</c>, as behind a proxy that keeps the prefix), with the fake engine.</summary>
public sealed class PathBaseBrowserSession : BrowserSession
{
    public const string PathBase = "/fluxweb";

    public FakeImageGenerator Engine { get; } = new();

    protected override FluxWebFactory CreateFactory() => new FluxWebFactory().With("ReverseProxy:PathBase", PathBase).WithEngine(Engine);
}

/// <summary>
/// Under a base path the whole UI stays inside it: sign-in redirects, Blazor's script and circuit,
/// an upload from the browser, the generated image, the gallery's thumbnails; not one request
/// leaves the prefix or fails.
/// </summary>
public sealed class PathBaseTests(PathBaseBrowserSession session) : IClassFixture<PathBaseBrowserSession>
{
    [Fact]
    public async Task Sign_in_upload_generate_and_the_gallery_all_stay_under_the_base_path()
    {
        const string Email = "ada@example.com";
        await session.CreateAccountAsync(Email);
        var root = session.BaseUrl + PathBaseBrowserSession.PathBase;
        var page = await session.NewPageAsync();
        var outside = new List<string>();
        page.Request += (_, request) =>
        {
            if (request.Url.StartsWith(session.BaseUrl, StringComparison.Ordinal) && !request.Url.StartsWith(root + "/", StringComparison.Ordinal))
            {
                outside.Add(request.Url);
            }
        };
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                outside.Add($"{response.Status} {response.Url}");
            }
        };
        try
        {
            await page.GotoAsync($"{root}/studio");
            Assert.Equal($"{root}/Account/Login?ReturnUrl=%2Ffluxweb%2Fstudio", page.Url);
            await page.FillAsync("#Input\\.Email", Email);
            await page.FillAsync("#Input\\.Password", SiteClient.StrongPassword);
            await page.ClickAsync("[data-testid=login-submit]");
            await page.WaitForURLAsync($"{root}/studio");
            await AppBrowserSession.WaitForCircuitAsync(page);

            // The browser uploads over HTTP (image-uploads.js) and shows the picture from the image endpoint.
            var folder = Directory.CreateTempSubdirectory("fluxweb-pathbase");
            var picture = Path.Combine(folder.FullName, "moodboard.png");
            using (var image = StudioPage.Checkerboard(320, 240))
            {
                await image.SaveAsPngAsync(picture);
            }

            await StudioPage.WaitForUploadsReadyAsync(page, "reference-drop");
            await page.SetInputFilesAsync("[data-testid=reference-drop-input]", picture);
            var reference = page.Locator("[data-testid=reference]");
            await StudioPage.WaitForLoadedImageAsync(reference.Locator("img"), $"{PathBaseBrowserSession.PathBase}/api/v1/images/");
            await reference.First.Locator("[data-testid=reference-remove]").ClickAsync();
            await Assertions.Expect(reference).ToHaveCountAsync(0);
            folder.Delete(recursive: true);

            await StudioPage.ChooseModelAsync(page, QueueHost.ModelId);
            await page.FillAsync("#studio-prompt", "a lighthouse at dusk");
            await page.ClickAsync("[data-testid=generate]");
            var result = page.Locator("[data-testid=result]").First;
            await StudioPage.WaitForLoadedImageAsync(result.Locator("[data-testid=result-image]"), $"{PathBaseBrowserSession.PathBase}/api/v1/images/");

            await page.GetByRole(AriaRole.Link, new() { Name = "Gallery", Exact = true }).ClickAsync();
            await page.WaitForURLAsync($"{root}/gallery");
            var thumbnail = page.Locator("[data-testid=gallery-item] img").First;
            await StudioPage.WaitForLoadedImageAsync(thumbnail, $"{PathBaseBrowserSession.PathBase}/api/v1/images/");
            await AppBrowserSession.ScreenshotAsync(page, "path-base-gallery");

            Assert.Empty(outside);
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(page, "path-base-failure");
            Console.WriteLine($"path base: requests outside the prefix or failed: {string.Join("; ", outside)}");
            throw;
        }
    }
}
