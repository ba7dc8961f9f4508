using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using Xunit.Abstractions;

namespace FluxWeb.Browser.Tests.Published;

/// <summary>
/// The loop in real Chromium against the published app and its demo engine on the CPU: the lightbox and its keys,
/// vary with the before/after slider, more like this, upscale ×2 beside the original, extend, dragging a result onto the
/// reference slots and pasting a picture; and the mask editor zoomed and panned, whose saved mask is compared with one computed here.
/// </summary>
[Collection(SecondPublishedAppCollection.Name)]
public sealed class LoopTests(PublishedAppSession session, ITestOutputHelper output)
{
    private const string MasksPath = "/api/v1/uploads/masks";

    [Fact]
    public async Task Lightbox_vary_before_after_more_like_this_upscale_extend_and_drag_into_references()
    {
        var page = await SignedInStudioAsync("looper@example.com");
        try
        {
            await StudioPage.ChooseModelAsync(page, PublishedAppSession.DistilledModel);
            await StudioPage.SetSizeAsync(page, 256, 256);
            await page.FillAsync("#studio-prompt", "a red kite over a green hill");
            await page.Locator("[data-testid=generate]").ClickAsync();
            var results = page.Locator("[data-testid=result]");
            await Assertions.Expect(results).ToHaveCountAsync(1, new() { Timeout = 120_000 });
            var original = results.First;
            await StudioPage.WaitForLoadedImageAsync(original.Locator("[data-testid=result-image]"), "/api/v1/images/", 60_000);
            var originalId = (await original.GetAttributeAsync("data-image-id"))!;
            var originalSeed = ulong.Parse(Regex.Match(await (await OnStageAsync(page, originalId)).Locator("[data-testid=result-facts]").InnerTextAsync(), "seed ([0-9]+)").Groups[1].Value, CultureInfo.InvariantCulture);

            // The lightbox opens in the page (no new tab), lists its keys on ?, and closes with Esc.
            await (await OnStageAsync(page, originalId)).Locator("[data-testid=result-open]").ClickAsync();
            var lightbox = page.Locator("[data-testid=lightbox]");
            await Assertions.Expect(lightbox).ToBeVisibleAsync();
            Assert.Single(page.Context.Pages);
            await Assertions.Expect(lightbox).ToBeFocusedAsync();
            await page.Keyboard.PressAsync("?");
            await Assertions.Expect(page.Locator("[data-testid=lightbox-keys]")).ToContainTextAsync("Shift+V");
            await AppBrowserSession.ScreenshotAsync(page, "loop-lightbox-keys");
            await page.Keyboard.PressAsync("Escape");
            await Assertions.Expect(page.Locator("[data-testid=lightbox-keys]")).ToHaveCountAsync(0);
            await page.Keyboard.PressAsync("Escape");
            await Assertions.Expect(lightbox).ToHaveCountAsync(0);

            // Vary subtly: the new result compares with its source.
            await (await OnStageAsync(page, originalId)).Locator("[data-testid=loop-vary-subtle]").ClickAsync();
            await Assertions.Expect(results).ToHaveCountAsync(2, new() { Timeout = 120_000 });
            var varied = results.First;
            await StudioPage.WaitForLoadedImageAsync(varied.Locator("[data-testid=result-image]"), "/api/v1/images/", 60_000);
            Assert.NotEqual(originalId, await varied.GetAttributeAsync("data-image-id"));
            await (await OnStageAsync(page, await ImageIdAsync(varied))).Locator("[data-testid=result-open]").ClickAsync();
            var compare = page.Locator("[data-testid=lightbox] [data-testid=before-after]");
            await Assertions.Expect(compare).ToHaveAttributeAsync("data-mode", "slider");
            await StudioPage.WaitForLoadedImageAsync(compare.Locator("[data-testid=before-image]"), $"/api/v1/images/{originalId}");
            await StudioPage.WaitForLoadedImageAsync(compare.Locator("[data-testid=after-image]"), "/api/v1/images/");
            await compare.Locator("[data-testid=before-after-range]").FillAsync("20");
            await Assertions.Expect(compare.Locator("[data-testid=after-image]")).ToHaveAttributeAsync("style", new Regex("inset\\(0(px)? 0(px)? 0(px)? 20%\\)"));
            await AppBrowserSession.ScreenshotAsync(page, "loop-before-after");
            await lightbox.FocusAsync();
            await page.Keyboard.PressAsync("ArrowRight");
            await Assertions.Expect(lightbox).ToHaveAttributeAsync("data-image-id", originalId);
            await page.Keyboard.PressAsync("ArrowLeft");
            await Assertions.Expect(lightbox).Not.ToHaveAttributeAsync("data-image-id", originalId);
            await page.Keyboard.PressAsync("Escape");

            // More like this: the same settings with the next seed.
            await (await OnStageAsync(page, originalId)).Locator("[data-testid=loop-more]").ClickAsync();
            await Assertions.Expect(results).ToHaveCountAsync(3, new() { Timeout = 120_000 });
            await Assertions.Expect((await OnStageAsync(page, await ImageIdAsync(results.First))).Locator("[data-testid=result-facts]")).ToContainTextAsync(string.Create(CultureInfo.InvariantCulture, $"256×256 · seed {originalSeed + 1}"));

            // Upscale ×2 through the model, shown beside the original.
            await Assertions.Expect((await OnStageAsync(page, originalId)).Locator("[data-testid=loop-upscale]")).ToHaveAttributeAsync("aria-label", new Regex("to 512×512"));
            await (await OnStageAsync(page, originalId)).Locator("[data-testid=loop-upscale]").ClickAsync();
            await Assertions.Expect(results).ToHaveCountAsync(4, new() { Timeout = 180_000 });
            var upscaled = results.First;
            await Assertions.Expect((await OnStageAsync(page, await ImageIdAsync(upscaled))).Locator("[data-testid=result-facts]")).ToContainTextAsync("512×512");
            await (await OnStageAsync(page, await ImageIdAsync(upscaled))).Locator("[data-testid=result-open]").ClickAsync();
            var beside = page.Locator("[data-testid=lightbox] [data-testid=before-after]");
            await Assertions.Expect(beside).ToHaveAttributeAsync("data-mode", "side-by-side");
            await StudioPage.WaitForLoadedImageAsync(beside.Locator("[data-testid=before-image]"), $"/api/v1/images/{originalId}");
            await StudioPage.WaitForLoadedImageAsync(beside.Locator("[data-testid=after-image]"), "/api/v1/images/");
            Assert.Equal(512, await beside.Locator("[data-testid=after-image]").EvaluateAsync<int>("img => img.naturalWidth"));
            await AppBrowserSession.ScreenshotAsync(page, "loop-upscale-beside-original");
            await page.Keyboard.PressAsync("Escape");
            await Assertions.Expect(lightbox).ToHaveCountAsync(0);

            // Extend: the dialog offers wider by default, says the size it makes, and the result is the larger picture.
            await (await OnStageAsync(page, originalId)).Locator("[data-testid=loop-extend]").ClickAsync();
            var extend = page.Locator("[data-testid=extend-dialog]");
            await Assertions.Expect(extend.Locator("[data-testid=extend-size]")).ToHaveTextAsync("256 × 256 → 384 × 256");
            await page.FillAsync("#extend-prompt", "a red kite over a wide green valley");
            await AppBrowserSession.ScreenshotAsync(page, "loop-extend-dialog");
            await page.Locator("[data-testid=extend-submit]").ClickAsync();
            await Assertions.Expect(extend).ToHaveCountAsync(0);
            await Assertions.Expect(results).ToHaveCountAsync(5, new() { Timeout = 180_000 });
            var widened = results.First;
            await StudioPage.WaitForLoadedImageAsync(widened.Locator("[data-testid=result-image]"), "/api/v1/images/", 60_000);
            var stage = await OnStageAsync(page, await ImageIdAsync(widened));
            await Assertions.Expect(stage.Locator("[data-testid=result-facts]")).ToContainTextAsync("384×256");
            await StudioPage.WaitForLoadedImageAsync(stage.Locator("[data-testid=stage-image]"), "/api/v1/images/", 60_000);
            Assert.Equal(384, await stage.Locator("[data-testid=stage-image]").EvaluateAsync<int>("img => img.naturalWidth"));

            // A result dragged onto the reference slots becomes a reference (by id, through the licence-checked door).
            await StudioPage.WaitForUploadsReadyAsync(page, "reference-drop");
            await Result(page, originalId).Locator("[data-testid=result-image]").DragToAsync(page.Locator("[data-testid=reference-drop]"));
            await Assertions.Expect(page.Locator($"[data-testid=reference][data-image-id='{originalId}']")).ToHaveCountAsync(1);
            await AppBrowserSession.ScreenshotAsync(page, "loop-dragged-into-references");

            // A picture pasted from the clipboard (Ctrl+V) is uploaded like a dropped file and becomes the next reference.
            await page.EvaluateAsync("""
                async () => {
                  const canvas = document.createElement('canvas');
                  canvas.width = 96;
                  canvas.height = 64;
                  const ctx = canvas.getContext('2d');
                  ctx.fillStyle = '#3a7';
                  ctx.fillRect(0, 0, 96, 64);
                  const blob = await new Promise(resolve => canvas.toBlob(resolve, 'image/png'));
                  const data = new DataTransfer();
                  data.items.add(new File([blob], 'image.png', { type: 'image/png' }));
                  document.body.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
                }
                """);
            await Assertions.Expect(page.Locator("[data-testid=reference]")).ToHaveCountAsync(2);
            await Assertions.Expect(page.Locator("[data-testid=reference]").Nth(1).Locator("img")).ToHaveAttributeAsync("alt", new Regex("^Reference 2: pasted-.*\\.png$"));
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(page, "loop-failure");
            throw;
        }
    }

    [Fact]
    public async Task Zoomed_and_panned_painting_lands_in_the_right_pixels_of_the_saved_mask()
    {
        const int Width = 480;
        const int Height = 320;
        const int Brush = 10;
        var page = await SignedInStudioAsync("zoomer@example.com");
        try
        {
            var imageUrl = await UploadPictureAsync(page, Width, Height);
            await page.GotoAsync($"/studio/mask-editor?image={Uri.EscapeDataString(imageUrl)}&w={Width}&h={Height}");
            await AppBrowserSession.WaitForCircuitAsync(page);
            var stage = page.Locator(".fw-mask-stage[data-ready=true]");
            await stage.WaitForAsync();
            await page.Locator("[data-testid=mask-hardness] input[type=range]").FillAsync("100");
            await Assertions.Expect(page.Locator("[data-testid=mask-hardness]")).ToContainTextAsync("100 %");
            await page.Locator("[data-testid=mask-size] input[type=range]").FillAsync(Brush.ToString(CultureInfo.InvariantCulture));
            await Assertions.Expect(page.Locator("[data-testid=mask-size]")).ToContainTextAsync($"{Brush} px");
            var frame = page.Locator(".fw-mask-frame");
            // Focused first (keys go to the picture): focusing may scroll the page, which moves every box measured below.
            await stage.FocusAsync();

            // Wheel zoom keeps the image point under the pointer where it is.
            var fitted = (await frame.BoundingBoxAsync())!;
            var (pointerX, pointerY) = (fitted.X + (120 * fitted.Width / Width), fitted.Y + (80 * fitted.Height / Height));
            await page.Mouse.MoveAsync(pointerX, pointerY);
            await page.Mouse.WheelAsync(0, -300);
            await page.WaitForFunctionAsync($"() => document.querySelector('.fw-mask-frame').getBoundingClientRect().width > {(fitted.Width * 1.5).ToString(CultureInfo.InvariantCulture)}");
            var zoomed = (await frame.BoundingBoxAsync())!;
            Assert.InRange((pointerX - zoomed.X) * Width / zoomed.Width, 119, 121);
            Assert.InRange((pointerY - zoomed.Y) * Height / zoomed.Height, 79, 81);
            await Assertions.Expect(page.Locator("[data-testid=mask-zoom]")).Not.ToHaveTextAsync("Fit");

            // Space-drag pans without painting.
            await page.Keyboard.DownAsync("Space");
            await page.Mouse.MoveAsync(pointerX, pointerY);
            await page.Mouse.DownAsync();
            await page.Mouse.MoveAsync(pointerX + 60, pointerY + 40, new MouseMoveOptions { Steps = 6 });
            await page.Mouse.UpAsync();
            await page.Keyboard.UpAsync("Space");
            var panned = (await frame.BoundingBoxAsync())!;
            Assert.InRange(panned.X - zoomed.X, 59, 61);
            Assert.InRange(panned.Y - zoomed.Y, 39, 41);

            // A rectangle drawn at this zoom, in image pixels (100, 60)–(180, 120).
            await page.Locator("[data-testid=mask-tool-rect]").ClickAsync();
            // The button shows the tool once the editor in the page has it (the circuit calls it, then renders):
            // drawing before that would paint a brush dab where the rectangle starts.
            await Assertions.Expect(page.Locator("[data-testid=mask-tool-rect]")).ToHaveAttributeAsync("aria-pressed", "true");
            (float X, float Y) At(LocatorBoundingBoxResult box, double x, double y) => ((float)(box.X + (x * box.Width / Width)), (float)(box.Y + (y * box.Height / Height)));
            var from = At(panned, 100, 60);
            var to = At(panned, 180, 120);
            await page.Mouse.MoveAsync(from.X, from.Y);
            await page.Mouse.DownAsync();
            await page.Mouse.MoveAsync(to.X, to.Y, new MouseMoveOptions { Steps = 8 });
            await page.Mouse.UpAsync();
            await AppBrowserSession.ScreenshotAsync(page, "mask-editor-zoomed");

            // 1:1, then a brush stroke (300, 200)–(360, 200).
            await page.Locator("[data-testid=mask-actual-size]").ClickAsync();
            await Assertions.Expect(page.Locator("[data-testid=mask-zoom]")).ToHaveTextAsync("100 %");
            var actual = (await frame.BoundingBoxAsync())!;
            Assert.InRange(actual.Width, Width - 1, Width + 1);
            await page.Locator("[data-testid=mask-tool-brush]").ClickAsync();
            await Assertions.Expect(page.Locator("[data-testid=mask-tool-brush]")).ToHaveAttributeAsync("aria-pressed", "true");
            var start = At(actual, 300, 200);
            var end = At(actual, 360, 200);
            await page.Mouse.MoveAsync(start.X, start.Y);
            await page.Mouse.DownAsync();
            await page.Mouse.MoveAsync(end.X, end.Y, new MouseMoveOptions { Steps = 12 });
            await page.Mouse.UpAsync();

            // "Show mask only" is a view: it changes nothing in the mask.
            await page.Locator("[data-testid=mask-only]").ClickAsync();
            await Assertions.Expect(page.Locator("[data-testid=mask-only]")).ToHaveAttributeAsync("aria-pressed", "true");
            await AppBrowserSession.ScreenshotAsync(page, "mask-editor-mask-only");

            using var saved = await SaveAndFetchAsync(page);
            using var expected = new Image<L8>(Width, Height);
            var (wrong, checkedPixels) = (new List<string>(), 0);
            for (var y = 0; y < Height; y++)
            {
                for (var x = 0; x < Width; x++)
                {
                    var (cx, cy) = (x + 0.5, y + 0.5);
                    var rectInside = Math.Min(Math.Min(cx - 100, 180 - cx), Math.Min(cy - 60, 120 - cy));
                    var along = Math.Clamp(cx, 300, 360);
                    var strokeInside = (Brush / 2.0) - Math.Sqrt(((cx - along) * (cx - along)) + ((cy - 200) * (cy - 200)));
                    var inside = Math.Max(rectInside, strokeInside);
                    expected[x, y] = new L8(inside > 0 ? (byte)255 : (byte)0);
                    // Pixels within 1.5 px of an edge may be partly covered (antialiasing, rounding of the pointer).
                    if (Math.Abs(inside) <= 1.5)
                    {
                        continue;
                    }

                    checkedPixels++;
                    if (saved[x, y].PackedValue != expected[x, y].PackedValue && wrong.Count < 10)
                    {
                        wrong.Add($"({x}, {y}) is {saved[x, y].PackedValue}, expected {expected[x, y].PackedValue}");
                    }
                }
            }

            await expected.SaveAsPngAsync(Path.Combine(AppBrowserSession.ArtefactsDirectory, "mask-editor-zoomed-expected.png"));
            await saved.SaveAsPngAsync(Path.Combine(AppBrowserSession.ArtefactsDirectory, "mask-editor-zoomed-saved.png"));
            output.WriteLine($"compared {checkedPixels} of {Width * Height} pixels with the expected mask");
            Assert.True(wrong.Count == 0, "The saved mask differs from the expected one: " + string.Join("; ", wrong));
            Assert.True(checkedPixels > Width * Height * 0.95);
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(page, "mask-editor-zoomed-failure");
            throw;
        }
    }

    [Fact]
    public async Task The_lightbox_keeps_the_page_behind_it_still_and_gives_the_focus_back_when_it_closes()
    {
        // On a phone the stage is below the form, so the page itself scrolls: the keys must not move it.
        await session.EnsureAccountAsync("pager@example.com");
        var page = await session.NewPageAsync(390, 844);
        try
        {
            await AppBrowserSession.SignInAsync(page, "pager@example.com");
            await AppBrowserSession.WaitForCircuitAsync(page);
            await StudioPage.ChooseModelAsync(page, PublishedAppSession.DistilledModel);
            await StudioPage.SetSizeAsync(page, 256, 256);
            await page.FillAsync("#studio-prompt", "three paper boats on a pond");
            await page.FillAsync("#studio-count", "3");
            await page.Locator("[data-testid=generate]").ClickAsync();
            var results = page.Locator("[data-testid=result]");
            await Assertions.Expect(results).ToHaveCountAsync(3, new() { Timeout = 120_000 });
            var ids = new List<string>();
            foreach (var result in await results.AllAsync())
            {
                await StudioPage.WaitForLoadedImageAsync(result.Locator("[data-testid=result-image]"), "/api/v1/images/", 60_000);
                ids.Add(await ImageIdAsync(result));
            }

            var stage = await OnStageAsync(page, ids[0]);
            var opener = stage.Locator("[data-testid=result-open]");
            await opener.ClickAsync();
            var lightbox = page.Locator("[data-testid=lightbox]");
            await Assertions.Expect(lightbox).ToBeFocusedAsync();
            // Somewhere in the middle of the page, so a key could move it either way.
            var scrollable = await page.EvaluateAsync<int>("() => document.documentElement.scrollHeight - window.innerHeight");
            Assert.True(scrollable > 200, $"The phone Studio should scroll; it has {scrollable} px to scroll.");
            var middle = await page.EvaluateAsync<double>("() => { window.scrollTo(0, Math.floor((document.documentElement.scrollHeight - window.innerHeight) / 2)); return window.scrollY; }");

            (string Key, int Index)[] presses =
            [
                ("ArrowRight", 1), ("ArrowRight", 2), ("ArrowLeft", 1), ("End", 2), ("Home", 0),
                ("ArrowDown", 0), ("ArrowUp", 0), ("Space", 0), ("PageDown", 0), ("PageUp", 0),
            ];
            var moved = new List<string>();
            foreach (var (key, index) in presses)
            {
                await page.Keyboard.PressAsync(key);
                await Assertions.Expect(lightbox).ToHaveAttributeAsync("data-index", index.ToString(CultureInfo.InvariantCulture));
                // Scrolling (smooth or not) starts within a frame or two of the key: wait for two frames before reading.
                var now = await page.EvaluateAsync<double>("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(window.scrollY))))");
                if (Math.Abs(now - middle) > 0.5)
                {
                    moved.Add($"{key} moved the page from {middle:0} to {now:0}");
                }
            }

            Assert.True(moved.Count == 0, string.Join("; ", moved));
            await page.Keyboard.PressAsync("Escape");
            await Assertions.Expect(lightbox).ToHaveCountAsync(0);
            await Assertions.Expect(opener).ToBeFocusedAsync();
            // The page scrolls again once the lightbox is gone.
            Assert.Equal("", await page.EvaluateAsync<string>("() => document.documentElement.style.overflow"));
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(page, "lightbox-still-failure");
            throw;
        }
    }

    [Fact]
    public async Task A_lasso_fills_the_polygon_it_draws_in_the_saved_mask()
    {
        const int Width = 480;
        const int Height = 320;
        (double X, double Y)[] polygon = [(60, 40), (260, 60), (300, 150), (220, 280), (100, 260), (40, 140)];
        var page = await SignedInStudioAsync("lasso@example.com");
        try
        {
            var imageUrl = await UploadPictureAsync(page, Width, Height);
            await page.GotoAsync($"/studio/mask-editor?image={Uri.EscapeDataString(imageUrl)}&w={Width}&h={Height}");
            await AppBrowserSession.WaitForCircuitAsync(page);
            var stage = page.Locator(".fw-mask-stage[data-ready=true]");
            await stage.WaitForAsync();
            await stage.FocusAsync();
            await page.Locator("[data-testid=mask-tool-lasso]").ClickAsync();
            // As with the rectangle: drawing before the editor has the tool would paint a brush stroke instead.
            await Assertions.Expect(page.Locator("[data-testid=mask-tool-lasso]")).ToHaveAttributeAsync("aria-pressed", "true");

            var box = (await page.Locator(".fw-mask-frame").BoundingBoxAsync())!;
            (float X, float Y) At((double X, double Y) p) => ((float)(box.X + (p.X * box.Width / Width)), (float)(box.Y + (p.Y * box.Height / Height)));
            var start = At(polygon[0]);
            await page.Mouse.MoveAsync(start.X, start.Y);
            await page.Mouse.DownAsync();
            foreach (var vertex in polygon.Skip(1))
            {
                var to = At(vertex);
                await page.Mouse.MoveAsync(to.X, to.Y, new MouseMoveOptions { Steps = 10 });
            }

            // Let go at the last corner: the lasso closes itself back to the first.
            await page.Mouse.UpAsync();
            await AppBrowserSession.ScreenshotAsync(page, "mask-editor-lasso");

            using var saved = await SaveAndFetchAsync(page);
            using var expected = new Image<L8>(Width, Height);
            var (wrong, checkedPixels, inside) = (new List<string>(), 0, 0);
            for (var y = 0; y < Height; y++)
            {
                for (var x = 0; x < Width; x++)
                {
                    var (cx, cy) = (x + 0.5, y + 0.5);
                    var within = Contains(polygon, cx, cy);
                    expected[x, y] = new L8(within ? (byte)255 : (byte)0);
                    // Pixels within 1.5 px of an edge may be partly covered (antialiasing, rounding of the pointer).
                    if (DistanceToEdges(polygon, cx, cy) <= 1.5)
                    {
                        continue;
                    }

                    checkedPixels++;
                    inside += within ? 1 : 0;
                    if (saved[x, y].PackedValue != expected[x, y].PackedValue && wrong.Count < 10)
                    {
                        wrong.Add($"({x}, {y}) is {saved[x, y].PackedValue}, expected {expected[x, y].PackedValue}");
                    }
                }
            }

            await expected.SaveAsPngAsync(Path.Combine(AppBrowserSession.ArtefactsDirectory, "mask-editor-lasso-expected.png"));
            await saved.SaveAsPngAsync(Path.Combine(AppBrowserSession.ArtefactsDirectory, "mask-editor-lasso-saved.png"));
            output.WriteLine($"compared {checkedPixels} of {Width * Height} pixels ({inside} inside the lasso) with the expected mask");
            Assert.True(wrong.Count == 0, "The saved mask differs from the lasso's polygon: " + string.Join("; ", wrong));
            Assert.True(inside > 30_000, $"Only {inside} pixels inside the lasso were compared.");
            Assert.True(checkedPixels > Width * Height * 0.95);
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(page, "mask-editor-lasso-failure");
            throw;
        }
    }

    [Fact]
    public async Task Two_fingers_pinch_zoom_about_their_midpoint_and_pan_while_one_finger_paints()
    {
        const int Width = 480;
        const int Height = 320;
        const string email = "pincher@example.com";
        await session.EnsureAccountAsync(email);
        var context = await session.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = session.BaseUrl,
            ViewportSize = new ViewportSize { Width = 1024, Height = 768 },
            HasTouch = true,
        });
        context.SetDefaultTimeout(20_000);
        var page = await context.NewPageAsync();
        try
        {
            await AppBrowserSession.SignInAsync(page, email);
            await AppBrowserSession.WaitForCircuitAsync(page);
            var imageUrl = await UploadPictureAsync(page, Width, Height);
            await page.GotoAsync($"/studio/mask-editor?image={Uri.EscapeDataString(imageUrl)}&w={Width}&h={Height}");
            await AppBrowserSession.WaitForCircuitAsync(page);
            var stage = page.Locator(".fw-mask-stage[data-ready=true]");
            await stage.WaitForAsync();
            await page.Locator("[data-testid=mask-hardness] input[type=range]").FillAsync("100");
            await Assertions.Expect(page.Locator("[data-testid=mask-hardness]")).ToContainTextAsync("100 %");
            await page.Locator("[data-testid=mask-size] input[type=range]").FillAsync("10");
            await Assertions.Expect(page.Locator("[data-testid=mask-size]")).ToContainTextAsync("10 px");
            await stage.FocusAsync();
            var frame = page.Locator(".fw-mask-frame");
            var fitted = (await frame.BoundingBoxAsync())!;
            (double X, double Y) At(LocatorBoundingBoxResult box, double x, double y) => (box.X + (x * box.Width / Width), box.Y + (y * box.Height / Height));
            // Real touch input (the browser turns it into touch pointer events), one finger or two at a time.
            var touch = await context.NewCDPSessionAsync(page);
            async Task TouchAsync(string type, params (double X, double Y)[] fingers) =>
                await touch.SendAsync("Input.dispatchTouchEvent", new Dictionary<string, object>
                {
                    ["type"] = type,
                    ["touchPoints"] = fingers.Select((f, i) => new Dictionary<string, object> { ["x"] = f.X, ["y"] = f.Y, ["id"] = i + 1 }).ToArray(),
                });

            // One finger paints: image (60, 280)–(160, 280).
            await TouchAsync("touchStart", At(fitted, 60, 280));
            for (var step = 1; step <= 10; step++)
            {
                await TouchAsync("touchMove", At(fitted, 60 + (step * 10), 280));
            }

            await TouchAsync("touchEnd");
            // Screen pixels per image pixel, in per cent (what the editor's data-zoom says).
            var fitZoom = fitted.Width * 100 / Width;

            // Two fingers around image (300, 140), 80 image px apart, spread to 160: twice the zoom, about their midpoint.
            var middle = At(fitted, 300, 140);
            var half = 40 * fitted.Width / Width;
            await TouchAsync("touchStart", (middle.X - half, middle.Y));
            // The first finger has touched down (and would paint) before the second arrives.
            await page.EvaluateAsync("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))");
            await TouchAsync("touchStart", (middle.X - half, middle.Y), (middle.X + half, middle.Y));
            await Assertions.Expect(stage).ToHaveAttributeAsync("data-gesture", "pinch");
            for (var step = 1; step <= 8; step++)
            {
                var spread = half * (1 + (step / 8.0));
                await TouchAsync("touchMove", (middle.X - spread, middle.Y), (middle.X + spread, middle.Y));
            }

            await page.WaitForFunctionAsync($"() => Number(document.querySelector('.fw-mask-stage').dataset.zoom) >= {(fitZoom * 1.95).ToString(CultureInfo.InvariantCulture)}");
            var zoomed = (await frame.BoundingBoxAsync())!;
            var zoomedZoom = double.Parse((await stage.GetAttributeAsync("data-zoom"))!, CultureInfo.InvariantCulture);
            Assert.InRange(zoomedZoom, fitZoom * 1.95, fitZoom * 2.05);
            Assert.InRange((middle.X - zoomed.X) * Width / zoomed.Width, 299, 301);
            Assert.InRange((middle.Y - zoomed.Y) * Height / zoomed.Height, 139, 141);

            // Both fingers move by (50, 30): the picture follows them, at the same zoom.
            var (panX, panY) = (PanOf(await stage.GetAttributeAsync("data-pan-x")), PanOf(await stage.GetAttributeAsync("data-pan-y")));
            var spreadEnd = half * 2;
            for (var step = 1; step <= 5; step++)
            {
                var (dx, dy) = (step * 10.0, step * 6.0);
                await TouchAsync("touchMove", (middle.X - spreadEnd + dx, middle.Y + dy), (middle.X + spreadEnd + dx, middle.Y + dy));
            }

            await TouchAsync("touchEnd");
            await Assertions.Expect(stage).Not.ToHaveAttributeAsync("data-gesture", "pinch");
            var panned = (await frame.BoundingBoxAsync())!;
            Assert.InRange(panned.X - zoomed.X, 49, 51);
            Assert.InRange(panned.Y - zoomed.Y, 29, 31);
            Assert.InRange(panned.Width, zoomed.Width - 1, zoomed.Width + 1);
            Assert.InRange(PanOf(await stage.GetAttributeAsync("data-pan-x")) - panX, 49, 51);
            Assert.InRange(PanOf(await stage.GetAttributeAsync("data-pan-y")) - panY, 29, 31);
            await AppBrowserSession.ScreenshotAsync(page, "mask-editor-pinched");

            // The one-finger stroke is in the mask; nothing of the two-finger gesture is (its first finger's dab was taken back).
            using var saved = await SaveAndFetchAsync(page);
            await saved.SaveAsPngAsync(Path.Combine(AppBrowserSession.ArtefactsDirectory, "mask-editor-pinched-saved.png"));
            Assert.Equal(255, saved[110, 280].PackedValue);
            Assert.Equal(255, saved[70, 280].PackedValue);
            var painted = new List<string>();
            for (var y = 0; y < 260; y++)
            {
                for (var x = 0; x < Width; x++)
                {
                    if (saved[x, y].PackedValue != 0 && painted.Count < 10)
                    {
                        painted.Add($"({x}, {y}) = {saved[x, y].PackedValue}");
                    }
                }
            }

            Assert.True(painted.Count == 0, "The two-finger gesture painted: " + string.Join("; ", painted));
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(page, "mask-editor-pinch-failure");
            throw;
        }
    }

    private static double PanOf(string? value) => double.Parse(value ?? "0", CultureInfo.InvariantCulture);

    /// <summary>Even-odd point in polygon (the lasso's polygon is simple, so the fill rule does not matter).</summary>
    private static bool Contains((double X, double Y)[] polygon, double x, double y)
    {
        var inside = false;
        for (int i = 0, j = polygon.Length - 1; i < polygon.Length; j = i++)
        {
            var (a, b) = (polygon[i], polygon[j]);
            if ((a.Y > y) != (b.Y > y) && x < ((b.X - a.X) * (y - a.Y) / (b.Y - a.Y)) + a.X)
            {
                inside = !inside;
            }
        }

        return inside;
    }

    private static double DistanceToEdges((double X, double Y)[] polygon, double x, double y)
    {
        var nearest = double.MaxValue;
        for (int i = 0, j = polygon.Length - 1; i < polygon.Length; j = i++)
        {
            var (a, b) = (polygon[j], polygon[i]);
            var (dx, dy) = (b.X - a.X, b.Y - a.Y);
            var t = Math.Clamp((((x - a.X) * dx) + ((y - a.Y) * dy)) / ((dx * dx) + (dy * dy)), 0, 1);
            nearest = Math.Min(nearest, Math.Sqrt(Math.Pow(x - (a.X + (t * dx)), 2) + Math.Pow(y - (a.Y + (t * dy)), 2)));
        }

        return nearest;
    }

    private static ILocator Result(IPage page, string imageId) => page.Locator($"[data-testid=result][data-image-id='{imageId}']");

    /// <summary>Puts a result on the stage (a click on it in the filmstrip), where its facts, its actions and the lightbox are.</summary>
    private static async Task<ILocator> OnStageAsync(IPage page, string imageId)
    {
        await Result(page, imageId).Locator("[data-testid=result-select]").ClickAsync();
        var stage = page.Locator("[data-testid=stage]");
        await Assertions.Expect(stage.Locator("[data-testid=stage-image]")).ToHaveAttributeAsync("data-image-id", imageId);
        return stage;
    }

    private static async Task<string> ImageIdAsync(ILocator result) => (await result.GetAttributeAsync("data-image-id"))!;

    private async Task<IPage> SignedInStudioAsync(string email)
    {
        await session.EnsureAccountAsync(email);
        var page = await session.NewPageAsync();
        await AppBrowserSession.SignInAsync(page, email);
        await page.WaitForURLAsync("**/studio");
        await AppBrowserSession.WaitForCircuitAsync(page);
        return page;
    }

    private static async Task<string> UploadPictureAsync(IPage page, int width, int height)
    {
        using var picture = new Image<L8>(width, height);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                picture[x, y] = new L8((byte)(60 + (x * 120 / width) + ((x / 60) + (y / 40)) % 2 * 40));
            }
        }

        using var png = new MemoryStream();
        await picture.SaveAsPngAsync(png);
        var response = await page.APIRequest.PostAsync(MasksPath, new APIRequestContextOptions
        {
            DataByte = png.ToArray(),
            Headers = new Dictionary<string, string> { ["Content-Type"] = "image/png", ["X-FluxWeb-Request"] = "test" },
        });
        Assert.Equal(201, response.Status);
        return $"{MasksPath}/{(await response.JsonAsync())!.Value.GetProperty("id").GetString()}";
    }

    private static async Task<Image<L8>> SaveAndFetchAsync(IPage page)
    {
        await page.Locator("[data-testid=mask-save]").ClickAsync();
        var saved = page.Locator("[data-testid=mask-saved]");
        await saved.WaitForAsync();
        var response = await page.APIRequest.GetAsync($"{MasksPath}/{await saved.GetAttributeAsync("data-mask-id")}");
        Assert.Equal(200, response.Status);
        return Image.Load<L8>(await response.BodyAsync());
    }
}
