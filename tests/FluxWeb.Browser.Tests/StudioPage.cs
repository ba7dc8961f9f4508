using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit.Abstractions;

namespace FluxWeb.Browser.Tests;

/// <summary>What the Studio flows do with the page, whichever app they run against.</summary>
public static class StudioPage
{
    public static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    public const string RecordRunningJobScript = """
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

    public sealed record RunningJobStatus(string Text, double AtMs);

    public sealed record RunningJobRecord(RunningJobStatus[] Statuses, string[] Previews, bool ProgressBarShown);

    /// <summary>Timings are printed and kept with the artefacts, never asserted.</summary>
    public static void Report(ITestOutputHelper output, string line)
    {
        output.WriteLine(line);
        Console.WriteLine(line);
        File.AppendAllText(Path.Combine(AppBrowserSession.ArtefactsDirectory, "studio-timing.txt"), line + Environment.NewLine);
    }

    public static async Task ChooseModelAsync(IPage page, string modelId)
    {
        await page.Locator("[data-testid=model-select]").ClickAsync();
        await page.Locator($".mud-popover-open [data-model-id='{modelId}']").ClickAsync();
        await Assertions.Expect(page.Locator(".mud-popover-open [data-model-id]")).ToHaveCountAsync(0);
    }

    public static async Task SetSizeAsync(IPage page, int width, int height)
    {
        await page.FillAsync("#studio-width", width.ToString(CultureInfo.InvariantCulture));
        await page.FillAsync("#studio-height", height.ToString(CultureInfo.InvariantCulture));
        await Assertions.Expect(page.Locator("#studio-height")).ToHaveValueAsync(height.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>An image the browser really fetched and decoded through the signed-in, authorised endpoint.</summary>
    /// <summary>A drop zone takes files once its script has attached (it marks itself); a file chosen earlier goes nowhere.</summary>
    public static async Task WaitForUploadsReadyAsync(IPage page, string zoneTestId) =>
        await page.Locator($"[data-testid={zoneTestId}][data-uploads-ready=true]").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Attached });

    public static async Task WaitForLoadedImageAsync(ILocator image, string urlPart, float timeoutMs = 20_000)
    {
        await Assertions.Expect(image).ToHaveAttributeAsync("src", new Regex(Regex.Escape(urlPart)), new LocatorAssertionsToHaveAttributeOptions { Timeout = timeoutMs });
        await image.EvaluateAsync("img => img.complete && img.naturalWidth > 0 ? true : new Promise((ok, fail) => { img.onload = () => ok(true); img.onerror = () => fail('image did not load'); })");
    }

    /// <summary>
    /// After a resize the drawer and MudBlazor's breakpoint listener re-lay the page out over a few
    /// frames, so this waits (up to 5 s) for a width that fits, and fails with the widths if none comes.
    /// </summary>
    public static async Task AssertNoSidewaysScrollAsync(IPage page)
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

    public static Image<Rgb24> Checkerboard(int width, int height)
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
