using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using FluxWeb.Application.Images;
using FluxWeb.Inference.Packages;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Jobs;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.PixelFormats;
using Xunit.Abstractions;

namespace FluxWeb.Browser.Tests;

/// <summary>
/// The app with the real engine on the CPU and two real demo packages: the distilled one (4 fixed
/// steps) and a base one (steps and guidance adjustable), so a job can be made long enough to watch.
/// </summary>
public sealed class DemoStudioSession : BrowserSession
{
    public const string DistilledModel = "demo";
    public const string BaseModel = "demo-base";

    protected override FluxWebFactory CreateFactory()
    {
        // A small upload limit, so the browser's own size check can be tried with a small file.
        var factory = new FluxWebFactory().With("Accounts:Registration", "Open").With("Provenance:Decoding:MaxBytes", (1024 * 1024).ToString(CultureInfo.InvariantCulture));
        DemoPackage.Create(factory.ModelsDirectory, DistilledModel);
        DemoPackage.Create(factory.ModelsDirectory, BaseModel, variant: ModelVariant.Base);
        return factory;
    }
}

/// <summary>
/// The Studio in Chromium against the running app and the real demo engine: generate with live
/// progress, download, references through the file picker, a masked edit painted with the mouse,
/// cancel, another user locked out, and the page at phone and desktop sizes in both themes.
/// </summary>
public sealed class StudioTests(DemoStudioSession session, ITestOutputHelper output) : IClassFixture<DemoStudioSession>
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    [Fact]
    public async Task Generate_shows_progress_and_preview_then_the_image_which_downloads_as_png_shows_in_the_gallery_and_stays_private()
    {
        var page = await SignedInStudioAsync("ada@example.com");
        var bob = await session.NewPageAsync();
        try
        {
            await ChooseModelAsync(page, DemoStudioSession.BaseModel);
            // Base variants take steps and guidance; enough steps to watch the job run for a few seconds.
            await page.FillAsync("#studio-steps", "20");
            await Assertions.Expect(page.Locator("#studio-guidance")).ToBeVisibleAsync();
            // 512² rather than a thumbnail: a warm demo model does 256² steps faster than the
            // circuit renders them, and this test is about watching the progress.
            await SetSizeAsync(page, 512, 512);
            await page.FillAsync("#studio-prompt", "a lighthouse at dusk");

            // How fast the steps go depends on the machine, so the page itself records every
            // status the running job shows and every preview that loads, and the test reads the
            // record afterwards instead of hoping to look at the right moment.
            await page.EvaluateAsync(RecordRunningJobScript);
            var clock = Stopwatch.StartNew();
            // The keyboard path: Ctrl+Enter from inside the prompt.
            await page.Locator("#studio-prompt").PressAsync("Control+Enter");

            await Assertions.Expect(page.Locator("[data-testid=my-jobs] [data-testid=job]").Or(page.Locator("[data-testid=result]"))).Not.ToHaveCountAsync(0);
            await BrowserSession.ScreenshotAsync(page, "studio-running-desktop");

            var result = page.Locator("[data-testid=result]").First;
            await WaitForLoadedImageAsync(result.Locator("[data-testid=result-image]"), "/api/v1/images/", timeoutMs: 60_000);
            Report($"studio: 512², 20 steps on the demo base model (CPU): the result showed {clock.Elapsed.TotalSeconds:F1} s after Ctrl+Enter");
            var record = JsonSerializer.Deserialize<RunningJobRecord>(await page.EvaluateAsync<string>("() => JSON.stringify(window.fluxwebTestRecord)"), JsonSerializerOptions.Web)!;
            Report($"studio: the running job showed {string.Join(" | ", record.Statuses.Select(s => $"{s.Text} @{s.AtMs:F0} ms"))}; previews loaded: {record.Previews.Length}");
            Assert.True(record.ProgressBarShown, "The running job never showed a progress bar.");
            Assert.Contains(record.Statuses, s => Regex.IsMatch(s.Text, "^Running · step ([1-9]|1[0-9]|20) of 20$"));
            Assert.NotEmpty(record.Previews);
            Assert.All(record.Previews, url => Assert.Matches("/api/v1/jobs/[0-9a-f-]{36}/preview\\?step=[0-9]+$", url));
            await Assertions.Expect(page.Locator("[data-testid=my-jobs] [data-testid=job]")).ToHaveCountAsync(0);
            await Assertions.Expect(result.Locator("[data-testid=result-facts]")).ToContainTextAsync("512×512");

            var download = await page.RunAndWaitForDownloadAsync(() => result.Locator("[data-testid=result-download]").ClickAsync());
            var file = await File.ReadAllBytesAsync((await download.PathAsync())!);
            Assert.True(file.AsSpan().StartsWith(PngSignature), "The download is not a PNG file.");
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
            await ChooseModelAsync(page, DemoStudioSession.DistilledModel);
            await Assertions.Expect(page.Locator("#studio-steps")).ToHaveCountAsync(0);
            await Assertions.Expect(page.Locator("#studio-guidance")).ToHaveCountAsync(0);

            await BrowserSession.ScreenshotAsync(page, "studio-desktop-1440x900");
            await page.SetViewportSizeAsync(390, 844);
            await AssertNoSidewaysScrollAsync(page);
            await BrowserSession.ScreenshotAsync(page, "studio-phone-390x844");
            await page.ClickAsync("[data-testid=theme-toggle]");
            await BrowserSession.ScreenshotAsync(page, "studio-phone-390x844-other-theme");
            await page.SetViewportSizeAsync(1440, 900);
            await BrowserSession.ScreenshotAsync(page, "studio-desktop-1440x900-other-theme");

            // The image is in her gallery: through the navigation, first in the grid, thumbnail
            // loaded, and the detail names the prompt and the model.
            var imageUrl = (await result.Locator("[data-testid=result-image]").GetAttributeAsync("src"))!;
            var imageId = Guid.Parse(imageUrl.Split('?')[0].Split('/')[^1]);
            await page.GetByRole(AriaRole.Link, new() { Name = "Gallery", Exact = true }).ClickAsync();
            await page.WaitForURLAsync("**/gallery");
            var item = page.Locator("[data-testid=gallery-item]").First;
            await Assertions.Expect(item).ToHaveAttributeAsync("data-image-id", imageId.ToString());
            await WaitForLoadedImageAsync(item.Locator("img"), $"/api/v1/images/{imageId}/thumbnail");
            await item.Locator("[data-testid=gallery-open]").ClickAsync();
            var detail = page.Locator("[data-testid=image-detail]");
            await Assertions.Expect(detail.Locator("[data-testid=detail-prompt]")).ToHaveTextAsync("a lighthouse at dusk");
            await Assertions.Expect(detail).ToContainTextAsync(DemoStudioSession.BaseModel);
            var fromGallery = await page.RunAndWaitForDownloadAsync(() => detail.Locator("[data-testid=detail-download]").ClickAsync());
            Assert.Equal(file, await File.ReadAllBytesAsync((await fromGallery.PathAsync())!));
            await page.Keyboard.PressAsync("Escape");

            // A colleague cannot open Ada's image, neither as a page nor through the API.
            await SignInAsync(bob, "bob@example.com");
            var asPage = await bob.GotoAsync(imageUrl);
            Assert.Contains(asPage!.Status, new[] { 403, 404 });
            var asApi = await bob.APIRequest.GetAsync($"{imageUrl}?download=true");
            Assert.Contains(asApi.Status, new[] { 403, 404 });
            await bob.GotoAsync("/studio");
            await BrowserSession.WaitForCircuitAsync(bob);
            await Assertions.Expect(bob.Locator("[data-testid=results-empty]")).ToBeVisibleAsync();
        }
        catch
        {
            await BrowserSession.ScreenshotAsync(page, "studio-generate-failure");
            await BrowserSession.ScreenshotAsync(bob, "studio-generate-failure-bob");
            throw;
        }
    }

    [Fact]
    public async Task A_reference_uploaded_with_the_file_picker_reaches_the_job_and_a_gif_is_refused_in_the_browser()
    {
        var page = await SignedInStudioAsync("rita@example.com");
        try
        {
            var folder = Directory.CreateTempSubdirectory("fluxweb-studio-upload");
            var pngPath = Path.Combine(folder.FullName, "moodboard.png");
            var gifPath = Path.Combine(folder.FullName, "animation.gif");
            var hugePath = Path.Combine(folder.FullName, "poster.png");
            var huge = new byte[1536 * 1024];
            PngSignature.CopyTo(huge, 0);
            await File.WriteAllBytesAsync(hugePath, huge);
            using (var picture = Checkerboard(320, 240))
            {
                await picture.SaveAsPngAsync(pngPath);
                await picture.SaveAsync(gifPath, new GifEncoder());
            }

            await page.SetInputFilesAsync("[data-testid=reference-drop-input]", gifPath);
            await Assertions.Expect(page.Locator("[data-testid=reference-problem]")).ToContainTextAsync("animation.gif is a GIF");
            await Assertions.Expect(page.Locator("[data-testid=reference]")).ToHaveCountAsync(0);
            await page.SetInputFilesAsync("[data-testid=reference-drop-input]", hugePath);
            await Assertions.Expect(page.Locator("[data-testid=reference-problem]")).ToContainTextAsync("poster.png is 1.5 MiB; pictures may be at most 1 MiB.");
            await Assertions.Expect(page.Locator("[data-testid=reference]")).ToHaveCountAsync(0);

            await page.SetInputFilesAsync("[data-testid=reference-drop-input]", pngPath);
            var reference = page.Locator("[data-testid=reference]");
            await Assertions.Expect(reference).ToHaveCountAsync(1);
            await WaitForLoadedImageAsync(reference.Locator("img"), "/api/v1/images/");
            var referenceId = Guid.Parse((await reference.GetAttributeAsync("data-image-id"))!);

            await ChooseModelAsync(page, DemoStudioSession.DistilledModel);
            await SetSizeAsync(page, 256, 256);
            await page.FillAsync("#studio-prompt", "the same room, in winter");
            await page.ClickAsync("[data-testid=generate]");

            var result = page.Locator("[data-testid=result]").First;
            await WaitForLoadedImageAsync(result.Locator("[data-testid=result-image]"), "/api/v1/images/", timeoutMs: 60_000);
            var job = await JobAsync(Guid.Parse((await result.GetAttributeAsync("data-job-id"))!));
            Assert.Equal(JobMode.Edit, job.Mode);
            Assert.Equal([referenceId], job.ReferenceImageIds);
            Assert.Equal(JobState.Succeeded, job.State);

            // The result itself can go back in as a second reference, and the order changes with the buttons.
            await result.Locator("[data-testid=result-reference]").ClickAsync();
            await Assertions.Expect(reference).ToHaveCountAsync(2);
            await reference.Nth(1).Locator("[data-testid=reference-earlier]").ClickAsync();
            await Assertions.Expect(reference.First).ToHaveAttributeAsync("data-image-id", job.OutputImageId!.Value.ToString());
            await reference.First.Locator("[data-testid=reference-remove]").ClickAsync();
            await Assertions.Expect(reference).ToHaveCountAsync(1);
            await Assertions.Expect(reference.First).ToHaveAttributeAsync("data-image-id", referenceId.ToString());
            folder.Delete(recursive: true);
        }
        catch
        {
            await BrowserSession.ScreenshotAsync(page, "studio-reference-failure");
            throw;
        }
    }

    [Fact]
    public async Task A_masked_edit_painted_with_the_mouse_sends_the_stroke_as_the_jobs_mask()
    {
        const int Width = 320;
        const int Height = 256;
        var page = await SignedInStudioAsync("mia@example.com");
        try
        {
            // A picture of Mia's, opened for editing by the Gallery's deep link.
            using var picture = Checkerboard(Width, Height);
            using var png = new MemoryStream();
            await picture.SaveAsPngAsync(png);
            var upload = await page.APIRequest.PostAsync("/api/v1/uploads/images?name=room.png", new APIRequestContextOptions
            {
                DataByte = png.ToArray(),
                Headers = new Dictionary<string, string> { ["Content-Type"] = "image/png", ["X-FluxWeb-Request"] = "test" },
            });
            Assert.Equal(201, upload.Status);
            var sourceId = Guid.Parse((await upload.JsonAsync())!.Value.GetProperty("id").GetString()!);

            await page.GotoAsync($"/studio?edit={sourceId}");
            await BrowserSession.WaitForCircuitAsync(page);
            await page.WaitForURLAsync("**/studio");
            await page.Locator(".fw-mask-stage[data-ready=true]").WaitForAsync();
            await Assertions.Expect(page.Locator("[data-testid=size-from-source]")).ToContainTextAsync($"{Width} × {Height}");

            await page.Locator("[data-testid=mask-size] input[type=range]").FillAsync("20");
            await page.Locator("[data-testid=mask-hardness] input[type=range]").FillAsync("100");
            await Assertions.Expect(page.Locator("[data-testid=mask-hardness]")).ToContainTextAsync("100 %");
            var frame = (await page.Locator(".fw-mask-frame").BoundingBoxAsync())!;
            (float X, float Y) At(double x, double y) => ((float)(frame.X + (x * frame.Width / Width)), (float)(frame.Y + (y * frame.Height / Height)));

            // A horizontal stroke across the middle, from x = 40 to x = 280 at y = 128.
            var (fromX, fromY) = At(40, 128);
            var (toX, toY) = At(280, 128);
            await page.Mouse.MoveAsync(fromX, fromY);
            await page.Mouse.DownAsync();
            await page.Mouse.MoveAsync(toX, toY, new MouseMoveOptions { Steps = 16 });
            await page.Mouse.UpAsync();

            await page.Locator("[data-testid=strength] input[type=range]").FillAsync("0.75");
            await Assertions.Expect(page.Locator("[data-testid=strength]")).ToContainTextAsync("0.75");
            await ChooseModelAsync(page, DemoStudioSession.DistilledModel);
            await page.FillAsync("#studio-prompt", "a red armchair");
            await BrowserSession.ScreenshotAsync(page, "studio-masked-edit-desktop");
            await page.ClickAsync("[data-testid=generate]");

            var result = page.Locator("[data-testid=result]").First;
            await WaitForLoadedImageAsync(result.Locator("[data-testid=result-image]"), "/api/v1/images/", timeoutMs: 60_000);
            var job = await JobAsync(Guid.Parse((await result.GetAttributeAsync("data-job-id"))!));
            Assert.Equal(JobMode.MaskedEdit, job.Mode);
            Assert.Equal(sourceId, job.SourceImageId);
            Assert.Equal(0.75f, job.Strength, 3);
            Assert.True(job.FeatherComposite);
            Assert.Equal((Width, Height), (job.ResolvedWidth, job.ResolvedHeight));

            using var mask = await session.Factory.Services.GetRequiredService<ImageStore>().LoadAsync<L8>(job.OwnerId, job.MaskImageId!.Value);
            Assert.NotNull(mask);
            Assert.Equal((Width, Height), (mask.Width, mask.Height));
            foreach (var x in new[] { 45, 100, 160, 220, 275 })
            {
                Assert.True(mask[x, 128].PackedValue == 255, $"({x}, 128) lies on the stroke but the mask has {mask[x, 128].PackedValue}");
                Assert.True(mask[x, 134].PackedValue == 255, $"({x}, 134) is within the brush but the mask has {mask[x, 134].PackedValue}");
            }

            foreach (var (x, y) in new[] { (10, 10), (160, 60), (160, 200), (300, 128), (10, 128), (Width - 1, Height - 1) })
            {
                Assert.True(mask[x, y].PackedValue == 0, $"({x}, {y}) is far from the stroke but the mask has {mask[x, y].PackedValue}");
            }
        }
        catch
        {
            await BrowserSession.ScreenshotAsync(page, "studio-masked-edit-failure");
            throw;
        }
    }

    [Fact]
    public async Task A_running_job_is_cancelled_from_the_queue_panel()
    {
        var page = await SignedInStudioAsync("carl@example.com");
        try
        {
            await ChooseModelAsync(page, DemoStudioSession.BaseModel);
            // About a minute of CPU work: it is certainly still running when Cancel is pressed.
            await page.FillAsync("#studio-steps", "100");
            await SetSizeAsync(page, 512, 512);
            await page.FillAsync("#studio-prompt", "a very slow picture");
            await page.ClickAsync("[data-testid=generate]");

            var job = page.Locator("[data-testid=my-jobs] [data-testid=job]").First;
            await Assertions.Expect(job).ToHaveAttributeAsync("data-state", "Running", new LocatorAssertionsToHaveAttributeOptions { Timeout = 30_000 });
            var jobId = Guid.Parse((await job.GetAttributeAsync("data-job-id"))!);
            var clock = Stopwatch.StartNew();
            await job.Locator("[data-testid=job-cancel]").ClickAsync();

            // Polled on every animation frame (an Expect retries at growing intervals, up to a second, which would be measured too).
            await page.WaitForFunctionAsync(
                "id => document.querySelector(`[data-testid=my-jobs] [data-job-id='${id}'] [data-testid=job-status]`)?.textContent.trim() === 'Cancelled by you.'",
                jobId.ToString(), new() { Timeout = 20_000 });
            Report($"studio: cancelling a running 512² job showed as cancelled {clock.Elapsed.TotalMilliseconds:F0} ms after the click");
            Assert.Equal(JobState.Cancelled, (await JobAsync(jobId)).State);
            Assert.Equal(0, await page.Locator("[data-testid=result]").CountAsync());
        }
        catch
        {
            await BrowserSession.ScreenshotAsync(page, "studio-cancel-failure");
            throw;
        }
    }

    private const string RecordRunningJobScript = """
        () => {
          const record = window.fluxwebTestRecord = { statuses: [], previews: [], progressBarShown: false };
          const start = performance.now();
          const look = () => {
            for (const status of document.querySelectorAll('[data-testid=my-jobs] [data-testid=job][data-state=Running] [data-testid=job-status]')) {
              const text = status.textContent.trim();
              if (record.statuses.at(-1)?.text !== text) record.statuses.push({ text, atMs: performance.now() - start });
              record.progressBarShown ||= status.closest('[data-testid=job]').querySelector('[data-testid=job-progress]')?.checkVisibility() === true;
            }
          };
          new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
          // Image load events do not bubble; they are seen on the way down.
          document.addEventListener('load', e => {
            const img = e.target;
            if (img instanceof HTMLImageElement && img.naturalWidth > 0 && img.closest('[data-testid=job][data-state=Running]') && img.src.includes('/preview?step=')) {
              record.previews.push(new URL(img.src).pathname + new URL(img.src).search);
            }
          }, true);
        }
        """;

    private sealed record RunningJobStatus(string Text, double AtMs);

    private sealed record RunningJobRecord(RunningJobStatus[] Statuses, string[] Previews, bool ProgressBarShown);

    /// <summary>Timings are printed and kept with the artefacts, never asserted.</summary>
    private void Report(string line)
    {
        output.WriteLine(line);
        Console.WriteLine(line);
        File.AppendAllText(Path.Combine(BrowserSession.ArtefactsDirectory, "studio-timing.txt"), line + Environment.NewLine);
    }

    private async Task<IPage> SignedInStudioAsync(string email)
    {
        var page = await session.NewPageAsync();
        await SignInAsync(page, email);
        return page;
    }

    /// <summary>Registers the account the first time (the very first one becomes the administrator), signs in after that.</summary>
    private static async Task SignInAsync(IPage page, string email)
    {
        await page.GotoAsync("/Account/Login?ReturnUrl=%2Fstudio");
        await page.FillAsync("#Input\\.Email", email);
        await page.FillAsync("#Input\\.Password", SiteClient.StrongPassword);
        await page.ClickAsync("[data-testid=login-submit]");
        await page.WaitForLoadStateAsync();
        if (!page.Url.EndsWith("/studio", StringComparison.Ordinal))
        {
            await page.GotoAsync("/Account/Register");
            await BrowserSession.FillRegistrationAsync(page, email);
        }

        await page.WaitForURLAsync("**/studio");
        await BrowserSession.WaitForCircuitAsync(page);
    }

    private static async Task ChooseModelAsync(IPage page, string modelId)
    {
        await page.Locator("[data-testid=model-select]").ClickAsync();
        await page.Locator($".mud-popover-open [data-model-id='{modelId}']").ClickAsync();
        await Assertions.Expect(page.Locator(".mud-popover-open [data-model-id]")).ToHaveCountAsync(0);
    }

    private static async Task SetSizeAsync(IPage page, int width, int height)
    {
        await page.FillAsync("#studio-width", width.ToString(CultureInfo.InvariantCulture));
        await page.FillAsync("#studio-height", height.ToString(CultureInfo.InvariantCulture));
        await Assertions.Expect(page.Locator("#studio-height")).ToHaveValueAsync(height.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>An image the browser really fetched and decoded through the signed-in, authorised endpoint.</summary>
    private static async Task WaitForLoadedImageAsync(ILocator image, string urlPart, float timeoutMs = 20_000)
    {
        await Assertions.Expect(image).ToHaveAttributeAsync("src", new Regex(Regex.Escape(urlPart)), new LocatorAssertionsToHaveAttributeOptions { Timeout = timeoutMs });
        await image.EvaluateAsync("img => img.complete && img.naturalWidth > 0 ? true : new Promise((ok, fail) => { img.onload = () => ok(true); img.onerror = () => fail('image did not load'); })");
    }

    /// <summary>
    /// After a resize the drawer and MudBlazor's breakpoint listener re-lay the page out over a few
    /// frames, so this waits (up to 5 s) for a width that fits, and fails with the widths if none comes.
    /// </summary>
    private static async Task AssertNoSidewaysScrollAsync(IPage page)
    {
        try
        {
            await page.WaitForFunctionAsync("() => document.documentElement.scrollWidth <= window.innerWidth", null, new() { Timeout = 5_000 });
        }
        catch (TimeoutException)
        {
            var widths = await page.EvaluateAsync<int[]>("() => [document.documentElement.scrollWidth, window.innerWidth]");
            Assert.Fail($"The Studio scrolls sideways at phone width: the page is {widths[0]} px wide in a {widths[1]} px window.");
        }
    }

    private async Task<Job> JobAsync(Guid id)
    {
        await using var db = await session.Factory.Services.GetRequiredService<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();
        return await db.Jobs.AsNoTracking().SingleAsync(j => j.Id == id);
    }

    private static Image<Rgb24> Checkerboard(int width, int height)
    {
        var picture = new Image<Rgb24>(width, height);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var light = ((x / 32) + (y / 32)) % 2 == 0;
                picture[x, y] = light ? new Rgb24(200, 180, 150) : new Rgb24(60, 70, 90);
            }
        }

        return picture;
    }
}
