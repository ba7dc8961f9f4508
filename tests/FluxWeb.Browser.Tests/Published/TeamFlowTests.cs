using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using FluxWeb.Testing;
using Microsoft.Playwright;

namespace FluxWeb.Browser.Tests.Published;

/// <summary>
/// Two people on the published app: Ada puts an image on a board (ticked in the gallery, "Add to board") and shares
/// the board with the team; Bob finds it in the team feed and uses it as a reference in his own Studio; Ada unshares
/// and Bob loses it at his next request. Then Ada downloads a ZIP whose image is byte for byte the original and still
/// verifies (watermark and C2PA) with the app's own <c>fluxweb verify</c>.
/// </summary>
[Collection(PublishedAppCollection.Name)]
public sealed class TeamFlowTests(PublishedAppSession session)
{
    private const string Ada = "ada.team@example.com";
    private const string Bob = "bob.team@example.com";

    /// <summary>Thumbnails, which the drag test holds back to drag a tile whose picture has not loaded.</summary>
    private static readonly Regex ThumbnailPath = new("/api/v1/images/[^/?]+/thumbnail");

    [Fact]
    public async Task A_board_shared_with_the_team_reaches_a_teammate_until_it_is_unshared_and_its_zip_holds_the_verifiable_original()
    {
        await session.EnsureAccountAsync(Ada);
        await session.EnsureAccountAsync(Bob);
        var imageId = await GenerateAsync(Ada, "a team harbour at dawn");
        var ada = await session.NewPageAsync();
        var bob = await session.NewPageAsync();
        try
        {
            // Ada makes a board and puts the image on it from the gallery's selection.
            await AppBrowserSession.SignInAsync(ada, Ada, "/boards");
            await AppBrowserSession.WaitForCircuitAsync(ada);
            await ada.FillAsync("input[data-testid=board-new-name], [data-testid=board-new-name] input", "Harbour picks");
            await ada.ClickAsync("[data-testid=board-create]");
            var board = ada.Locator("[data-testid=board-entry]", new() { HasText = "Harbour picks" });
            await Assertions.Expect(board).ToHaveCountAsync(1);
            var boardId = (await board.GetAttributeAsync("data-board-id"))!;

            await ada.GotoAsync("/gallery");
            await AppBrowserSession.WaitForCircuitAsync(ada);
            var item = ada.Locator($"[data-testid=gallery-item][data-image-id='{imageId}']");
            await item.Locator("[data-testid=gallery-select]").CheckAsync();
            await Assertions.Expect(ada.Locator("[data-testid=selection-count]")).ToHaveTextAsync("1 image selected");
            await ada.GetByRole(AriaRole.Button, new() { Name = "Add to board" }).ClickAsync();
            await ada.Locator(".mud-popover-open").GetByText("Harbour picks", new() { Exact = true }).ClickAsync();
            await Assertions.Expect(ada.Locator(".mud-snackbar")).ToContainTextAsync("added to “Harbour picks”");
            // The menu item's click ends by closing the menu and focusing its button, after the message shows: leaving
            // the page before that made the closed circuit log MudBlazor's JSDisconnectedException at Error.
            await ada.WaitForFunctionAsync("() => document.querySelector('[data-testid=selection-add-to-board]')?.contains(document.activeElement) === true");

            // … and shares the board with everyone on the server.
            await ada.GotoAsync("/boards");
            await AppBrowserSession.WaitForCircuitAsync(ada);
            await ada.Locator($"[data-testid=board-entry][data-board-id='{boardId}'] [data-testid=board-share]").ClickAsync();
            await ada.Locator("input[data-testid=share-team], [data-testid=share-team] input").CheckAsync();
            await ada.ClickAsync("[data-testid=share-submit]");
            await Assertions.Expect(ada.Locator("[data-testid=share-entry]")).ToHaveCountAsync(1);
            await ada.ClickAsync("[data-testid=share-close]");

            // Bob finds it in the team feed, with who made it, and uses it as a reference in his own Studio.
            await AppBrowserSession.SignInAsync(bob, Bob, "/team");
            await AppBrowserSession.WaitForCircuitAsync(bob);
            var shared = bob.Locator($"[data-testid=tile-item][data-image-id='{imageId}']");
            await Assertions.Expect(shared.Locator("[data-testid=tile-owner]")).ToHaveTextAsync($"by {Ada}");
            await StudioPage.WaitForLoadedImageAsync(shared.Locator("img"), $"/api/v1/images/{imageId}/thumbnail");
            await shared.Locator("[data-testid=tile-open]").ClickAsync();
            await Assertions.Expect(bob.Locator("[data-testid=image-detail] [data-testid=detail-prompt]")).ToHaveTextAsync("a team harbour at dawn");
            await bob.ClickAsync("[data-testid=detail-use-reference]");
            await bob.WaitForURLAsync("**/studio?reference=*");
            var copyId = Guid.Parse(new Uri(bob.Url).Query.Split('=')[1]);
            Assert.NotEqual(imageId, copyId);
            await AppBrowserSession.WaitForCircuitAsync(bob);
            await Assertions.Expect(bob.Locator("[data-testid=references] [data-testid=reference]")).ToHaveCountAsync(1);
            Assert.Equal(200, (await bob.APIRequest.GetAsync($"/api/v1/images/{imageId}")).Status);

            // Ada ends the share: Bob's next request for the original finds nothing; his copy stays his.
            await ada.Locator($"[data-testid=board-entry][data-board-id='{boardId}'] [data-testid=board-share]").ClickAsync();
            await ada.ClickAsync("[data-testid=share-remove]");
            await Assertions.Expect(ada.Locator("[data-testid=share-none]")).ToBeVisibleAsync();
            await ada.ClickAsync("[data-testid=share-close]");
            Assert.Equal(404, (await bob.APIRequest.GetAsync($"/api/v1/images/{imageId}")).Status);
            Assert.Equal(404, (await bob.APIRequest.GetAsync($"/api/v1/images/{imageId}/thumbnail")).Status);
            await bob.GotoAsync("/team");
            await AppBrowserSession.WaitForCircuitAsync(bob);
            await Assertions.Expect(bob.Locator($"[data-testid=tile-item][data-image-id='{imageId}']")).ToHaveCountAsync(0);
            Assert.Equal(200, (await bob.APIRequest.GetAsync($"/api/v1/images/{copyId}")).Status);

            // Ada downloads her image as a ZIP from the gallery: the original byte for byte, and it still verifies.
            await ada.GotoAsync("/gallery");
            await AppBrowserSession.WaitForCircuitAsync(ada);
            await ada.Locator($"[data-testid=gallery-item][data-image-id='{imageId}'] [data-testid=gallery-select]").CheckAsync();
            var download = await ada.RunAndWaitForDownloadAsync(() => ada.ClickAsync("[data-testid=selection-download]"));
            Assert.Matches("^fluxweb-.*\\.zip$", download.SuggestedFilename);
            var original = await (await ada.APIRequest.GetAsync($"/api/v1/images/{imageId}?download=true")).BodyAsync();
            using var zip = ZipFile.OpenRead((await download.PathAsync())!);
            var entry = zip.Entries.Single(e => e.FullName.EndsWith($"{imageId:N}.png", StringComparison.Ordinal));
            var extracted = Path.Combine(session.App.TempDirectory, $"from-zip-{imageId:N}.png");
            entry.ExtractToFile(extracted, overwrite: true);
            Assert.Equal(original, await File.ReadAllBytesAsync(extracted));
            await using (var metadata = zip.Entries.Single(e => e.FullName.EndsWith($"{imageId:N}.metadata.json", StringComparison.Ordinal)).Open())
            {
                var facts = await JsonSerializer.DeserializeAsync<JsonElement>(metadata);
                Assert.Equal("a team harbour at dawn", facts.GetProperty("prompt").GetString());
                Assert.Equal(Ada, facts.GetProperty("owner").GetString());
            }

            var verified = JsonDocument.Parse(await session.App.RunCommandAsync(null, "verify", extracted)).RootElement;
            Assert.True(verified.GetProperty("watermark").GetProperty("present").GetBoolean(), verified.ToString());
            Assert.Contains(verified.GetProperty("c2pa").GetProperty("state").GetString(), new[] { "Valid", "Trusted" });
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(ada, "team-flow-failure-ada");
            await AppBrowserSession.ScreenshotAsync(bob, "team-flow-failure-bob");
            throw;
        }
    }

    /// <summary>
    /// Chromium's own drag and drop (Playwright drives it through the browser's drag machinery): a gallery tile whose
    /// thumbnail has not loaded yet, a result in the Studio's filmstrip and the picture on the stage, each onto a board.
    /// </summary>
    [Fact]
    public async Task Images_dragged_from_the_gallery_and_from_the_studio_land_on_a_board()
    {
        const string Cleo = "cleo.team@example.com";
        await session.EnsureAccountAsync(Cleo);
        var galleryImage = await GenerateAsync(Cleo, "a gallery kite to drag");
        var page = await session.NewPageAsync();
        try
        {
            await AppBrowserSession.SignInAsync(page, Cleo, "/boards");
            await AppBrowserSession.WaitForCircuitAsync(page);
            await page.FillAsync("input[data-testid=board-new-name], [data-testid=board-new-name] input", "Dragged");
            await page.ClickAsync("[data-testid=board-create]");
            var board = page.Locator("[data-testid=board-entry]", new() { HasText = "Dragged" });
            await Assertions.Expect(board).ToHaveCountAsync(1);
            var boardId = (await board.GetAttributeAsync("data-board-id"))!;
            var target = $"[data-testid=board-drop-target][data-board-id='{boardId}']";
            await page.FillAsync("input[data-testid=board-new-name], [data-testid=board-new-name] input", "Stage picks");
            await page.ClickAsync("[data-testid=board-create]");
            var stageBoard = page.Locator("[data-testid=board-entry]", new() { HasText = "Stage picks" });
            await Assertions.Expect(stageBoard).ToHaveCountAsync(1);
            var stageBoardId = (await stageBoard.GetAttributeAsync("data-board-id"))!;

            // From the gallery: a tile onto the board's chip above the grid, while its thumbnail is still on its way
            // (held back here, as on a slow connection): Chromium starts no drag from an <img> that has not loaded.
            var thumbnailsHeld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await page.RouteAsync(ThumbnailPath, async route =>
            {
                await thumbnailsHeld.Task;
                await route.ContinueAsync();
            });
            await page.GotoAsync("/gallery");
            await AppBrowserSession.WaitForCircuitAsync(page);
            await page.Locator("[data-testid=board-drops][data-drops-ready=true]").WaitForAsync();
            var tile = page.Locator($"[data-testid=gallery-item][data-image-id='{galleryImage}']");
            Assert.False(await tile.Locator("img").EvaluateAsync<bool>("img => img.complete && img.naturalWidth > 0"));
            await tile.DragToAsync(page.Locator(target));
            await Assertions.Expect(page.Locator(".mud-snackbar", new() { HasText = "1 image added to “Dragged”" })).ToHaveCountAsync(1);
            thumbnailsHeld.SetResult();
            await page.UnrouteAsync(ThumbnailPath);

            // From the Studio: a new result in the filmstrip onto the same board, its thumbnail held back too.
            await page.GotoAsync("/studio");
            await AppBrowserSession.WaitForCircuitAsync(page);
            await StudioPage.ChooseModelAsync(page, PublishedAppSession.DistilledModel);
            await StudioPage.SetSizeAsync(page, 256, 256);
            var filmstripHeld = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await page.RouteAsync(ThumbnailPath, async route =>
            {
                await filmstripHeld.Task;
                await route.ContinueAsync();
            });
            await page.FillAsync("#studio-prompt", "a studio kite to drag");
            await page.Locator("[data-testid=generate]").ClickAsync();
            var result = page.Locator("[data-testid=result]").Filter(new() { Has = page.Locator("[aria-label*='a studio kite to drag']") });
            await Assertions.Expect(result).ToHaveCountAsync(1, new() { Timeout = 120_000 });
            var studioImage = (await result.GetAttributeAsync("data-image-id"))!;
            await page.Locator("[data-testid=board-drops][data-drops-ready=true]").WaitForAsync();
            // The boards are in view with the filmstrip: a drag cannot start while the column scrolls to its target.
            await Assertions.Expect(page.Locator(target)).ToBeInViewportAsync();
            Assert.False(await result.Locator("[data-testid=result-image]").EvaluateAsync<bool>("img => img.complete && img.naturalWidth > 0"));
            await result.DragToAsync(page.Locator(target));
            // The Studio's own "Queued …" toast may still be up: look for the board's among them.
            await Assertions.Expect(page.Locator(".mud-snackbar", new() { HasText = "1 image added to “Dragged”" })).ToHaveCountAsync(1);
            filmstripHeld.SetResult();
            await page.UnrouteAsync(ThumbnailPath);
            await StudioPage.WaitForLoadedImageAsync(result.Locator("[data-testid=result-image]"), "/api/v1/images/", 60_000);

            await AppBrowserSession.ScreenshotAsync(page, "studio-result-dragged-onto-a-board");

            // … and the picture on the stage (the same result) onto the other board.
            var stage = page.Locator("[data-testid=stage-image]");
            await Assertions.Expect(stage).ToHaveAttributeAsync("data-image-id", studioImage);
            await StudioPage.WaitForLoadedImageAsync(stage, "/api/v1/images/");
            var stageTarget = page.Locator($"[data-testid=board-drop-target][data-board-id='{stageBoardId}']");
            await Assertions.Expect(stageTarget).ToBeInViewportAsync();
            await stage.DragToAsync(stageTarget);
            await Assertions.Expect(page.Locator(".mud-snackbar", new() { HasText = "1 image added to “Stage picks”" })).ToHaveCountAsync(1);

            // Each is on its board.
            await page.GotoAsync($"/boards/{boardId}");
            await AppBrowserSession.WaitForCircuitAsync(page);
            await Assertions.Expect(page.Locator($"[data-testid=tile-item][data-image-id='{galleryImage}']")).ToHaveCountAsync(1);
            await Assertions.Expect(page.Locator($"[data-testid=tile-item][data-image-id='{studioImage}']")).ToHaveCountAsync(1);
            await page.GotoAsync($"/boards/{stageBoardId}");
            await AppBrowserSession.WaitForCircuitAsync(page);
            await Assertions.Expect(page.Locator("[data-testid=tile-item]")).ToHaveCountAsync(1);
            await Assertions.Expect(page.Locator($"[data-testid=tile-item][data-image-id='{studioImage}']")).ToHaveCountAsync(1);
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(page, "board-drag-failure");
            throw;
        }
    }

    /// <summary>One 256² demo image of <paramref name="email"/>'s, made through the API with a key, as a script would.</summary>
    private async Task<Guid> GenerateAsync(string email, string prompt)
    {
        var key = (await session.App.RunCommandAsync(null, "apikeys", "create", "--user", email, "--name", $"team-flow-{Guid.NewGuid():N}", "--scope", "generate")).Trim();
        using var http = new HttpClient { BaseAddress = new Uri(session.BaseUrl + "/") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var submitted = await http.PostAsJsonAsync("api/v1/generations", new { model = PublishedAppSession.DistilledModel, prompt, width = 256, height = 256, seed = 11 });
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        var jobId = (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobIds")[0].GetString();
        var job = await Eventually.Value(
            () => http.GetFromJsonAsync<JsonElement>($"api/v1/jobs/{jobId}"),
            j => j.GetProperty("state").GetString() is not ("Queued" or "Running"),
            () => $"job {jobId} did not end",
            TimeSpan.FromSeconds(120));
        Assert.Equal("Succeeded", job.GetProperty("state").GetString());
        return job.GetProperty("outputImageId").GetGuid();
    }
}
