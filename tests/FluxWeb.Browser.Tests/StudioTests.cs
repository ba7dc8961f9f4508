using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using FluxWeb.Application.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Inference.Packages;
using FluxWeb.Persistence;
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
            StudioPage.PngSignature.CopyTo(huge, 0);
            await File.WriteAllBytesAsync(hugePath, huge);
            using (var picture = StudioPage.Checkerboard(320, 240))
            {
                await picture.SaveAsPngAsync(pngPath);
                await picture.SaveAsync(gifPath, new GifEncoder());
            }

            await StudioPage.WaitForUploadsReadyAsync(page, "reference-drop");
            await page.SetInputFilesAsync("[data-testid=reference-drop-input]", gifPath);
            await Assertions.Expect(page.Locator("[data-testid=reference-problem]")).ToContainTextAsync("animation.gif is a GIF");
            await Assertions.Expect(page.Locator("[data-testid=reference]")).ToHaveCountAsync(0);
            await page.SetInputFilesAsync("[data-testid=reference-drop-input]", hugePath);
            await Assertions.Expect(page.Locator("[data-testid=reference-problem]")).ToContainTextAsync("poster.png is 1.5 MiB; pictures may be at most 1 MiB.");
            await Assertions.Expect(page.Locator("[data-testid=reference]")).ToHaveCountAsync(0);

            await page.SetInputFilesAsync("[data-testid=reference-drop-input]", pngPath);
            var reference = page.Locator("[data-testid=reference]");
            await Assertions.Expect(reference).ToHaveCountAsync(1);
            await StudioPage.WaitForLoadedImageAsync(reference.Locator("img"), "/api/v1/images/");
            var referenceId = Guid.Parse((await reference.GetAttributeAsync("data-image-id"))!);

            await StudioPage.ChooseModelAsync(page, DemoStudioSession.DistilledModel);
            await StudioPage.SetSizeAsync(page, 256, 256);
            await page.FillAsync("#studio-prompt", "the same room, in winter");
            await page.ClickAsync("[data-testid=generate]");

            var result = page.Locator("[data-testid=result]").First;
            await StudioPage.WaitForLoadedImageAsync(result.Locator("[data-testid=result-image]"), "/api/v1/images/", timeoutMs: 60_000);
            var job = await JobAsync(Guid.Parse((await result.GetAttributeAsync("data-job-id"))!));
            Assert.Equal(JobMode.Edit, job.Mode);
            Assert.Equal([referenceId], job.Settings.ReferenceImageIds);
            Assert.Equal(JobState.Succeeded, job.State);

            // The result itself (on the stage, as the newest) can go back in as a second reference, and the order changes with the buttons.
            await Assertions.Expect(page.Locator("[data-testid=stage] [data-testid=stage-image]")).ToHaveAttributeAsync("data-image-id", job.OutputImageId!.Value.ToString());
            await page.Locator("[data-testid=stage] [data-testid=result-reference]").ClickAsync();
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
            using var picture = StudioPage.Checkerboard(Width, Height);
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
            await StudioPage.ChooseModelAsync(page, DemoStudioSession.DistilledModel);
            await page.FillAsync("#studio-prompt", "a red armchair");
            await BrowserSession.ScreenshotAsync(page, "studio-masked-edit-desktop");
            await page.ClickAsync("[data-testid=generate]");

            var result = page.Locator("[data-testid=result]").First;
            await StudioPage.WaitForLoadedImageAsync(result.Locator("[data-testid=result-image]"), "/api/v1/images/", timeoutMs: 60_000);
            var job = await JobAsync(Guid.Parse((await result.GetAttributeAsync("data-job-id"))!));
            Assert.Equal(JobMode.MaskedEdit, job.Mode);
            Assert.Equal(sourceId, job.Settings.SourceImageId);
            Assert.Equal(0.75f, job.Settings.Strength, 3);
            Assert.True(job.Settings.Feather);
            Assert.Equal((Width, Height), (job.ResolvedWidth, job.ResolvedHeight));

            using var mask = await session.Factory.Services.GetRequiredService<ImageStore>().LoadAsync<L8>(job.OwnerId, job.Settings.MaskImageId!.Value);
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
            await StudioPage.ChooseModelAsync(page, DemoStudioSession.BaseModel);
            // About a minute of CPU work: it is certainly still running when Cancel is pressed.
            await page.FillAsync("#studio-steps", "100");
            await StudioPage.SetSizeAsync(page, 512, 512);
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
            StudioPage.Report(output, $"studio: cancelling a running 512² job showed as cancelled {clock.Elapsed.TotalMilliseconds:F0} ms after the click");
            Assert.Equal(JobState.Cancelled, (await JobAsync(jobId)).State);
            Assert.Equal(0, await page.Locator("[data-testid=result]").CountAsync());
        }
        catch
        {
            await BrowserSession.ScreenshotAsync(page, "studio-cancel-failure");
            throw;
        }
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

    private async Task<Job> JobAsync(Guid id)
    {
        await using var db = await session.Factory.Services.GetRequiredService<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();
        return await db.Jobs.AsNoTracking().SingleAsync(j => j.Id == id);
    }
}
