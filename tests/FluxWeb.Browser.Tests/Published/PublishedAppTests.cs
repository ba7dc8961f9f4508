using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using FluxWeb.Testing;
using Microsoft.Playwright;

namespace FluxWeb.Browser.Tests.Published;

/// <summary>
/// What a Docker user gets: the published executable, started from another working directory
/// with the image's environment and user, serves every asset of its pages byte for byte, its UI
/// comes alive in Chromium, and it writes only to its volumes.
/// </summary>
[Collection(PublishedAppCollection.Name)]
public sealed partial class PublishedAppTests(PublishedAppSession session)
{
    [Fact]
    public async Task Every_asset_the_first_page_references_answers_200_with_the_manifests_length_and_hash()
    {
        var manifest = StaticAssetManifest.Load(Path.Combine(session.App.PublishFolder, "fluxweb.staticwebassets.endpoints.json"));
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = true, AutomaticDecompression = DecompressionMethods.None }) { BaseAddress = new Uri(session.BaseUrl + "/") };

        // The first page anyone sees: the address itself, which sends a visitor to the sign-in page.
        using var first = await http.GetAsync("");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Contains("/Account/Login", first.RequestMessage!.RequestUri!.AbsolutePath, StringComparison.Ordinal);
        var html = await first.Content.ReadAsStringAsync();
        Assert.Matches("<base href=\"/\" ?/?>", html);

        var referenced = References(html);
        Assert.Contains(referenced, r => r.Url.StartsWith("_framework/blazor.web.", StringComparison.Ordinal));
        Assert.Contains(referenced, r => r.Url.StartsWith("_content/MudBlazor/MudBlazor.min.", StringComparison.Ordinal) && r.Url.EndsWith(".css", StringComparison.Ordinal));
        Assert.Contains(referenced, r => r.Url.StartsWith("fluxweb.", StringComparison.Ordinal) && r.Url.EndsWith(".styles.css", StringComparison.Ordinal));
        Assert.Contains(referenced, r => r.Url.StartsWith("Components/Layout/ReconnectModal.", StringComparison.Ordinal));

        var checkedAssets = new List<string>();
        foreach (var (url, integrity) in referenced.DistinctBy(r => r.Url))
        {
            var endpoints = manifest.For(url);
            Assert.True(endpoints.Count > 0, $"The page references {url}, which is not in the publish folder's static asset manifest.");
            var plain = endpoints.Single(e => e.ContentEncoding is null);

            using var response = await http.GetAsync(url);
            var body = await response.Content.ReadAsByteArrayAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode}");
            Assert.True(body.Length == plain.Length && response.Content.Headers.ContentLength == plain.Length, $"{url}: {body.Length} bytes (Content-Length {response.Content.Headers.ContentLength}), the manifest says {plain.Length}");
            var sha256 = "sha256-" + Convert.ToBase64String(SHA256.HashData(body));
            Assert.True(sha256 == plain.Integrity, $"{url}: the body hashes to {sha256}, the manifest says {plain.Integrity}");
            if (integrity is not null)
            {
                Assert.True(sha256 == integrity, $"{url}: the page's integrity attribute is {integrity}, the body hashes to {sha256}");
            }

            // The compressed variants a browser is actually sent: same content, the manifest's length.
            foreach (var compressed in endpoints.Where(e => e.ContentEncoding is not null))
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, url);
                request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue(compressed.ContentEncoding!));
                using var encoded = await http.SendAsync(request);
                var encodedBody = await encoded.Content.ReadAsByteArrayAsync();
                Assert.Equal(HttpStatusCode.OK, encoded.StatusCode);
                Assert.Equal(compressed.ContentEncoding, encoded.Content.Headers.ContentEncoding.Single());
                Assert.True(encodedBody.Length == compressed.Length, $"{url} ({compressed.ContentEncoding}): {encodedBody.Length} bytes, the manifest says {compressed.Length}");
                Assert.Equal(body, Decompress(encodedBody, compressed.ContentEncoding!));
            }

            checkedAssets.Add($"{url} ({body.Length} B)");
        }

        Console.WriteLine($"published app: {checkedAssets.Count} assets of the first page match the manifest: {string.Join(", ", checkedAssets)}");
    }

    [Fact]
    public async Task An_operator_created_administrator_signs_in_and_the_ui_runs_without_a_failed_request()
    {
        var page = await session.NewPageAsync();
        var failures = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                failures.Add($"console: {message.Text}");
            }
        };
        page.RequestFailed += (_, request) => failures.Add($"request failed: {request.Url} ({request.Failure})");
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                failures.Add($"{response.Status}: {response.Url}");
            }
        };
        try
        {
            await page.GotoAsync("/studio");
            Assert.EndsWith("/Account/Login?ReturnUrl=%2Fstudio", page.Url, StringComparison.Ordinal);
            // Blazor's script arrived whole and ran (an empty one loads "fine" and defines nothing).
            Assert.True(await page.EvaluateAsync<bool>("() => typeof window.Blazor === 'object'"), $"Blazor's script did not run on the sign-in page. What the page saw: {string.Join("; ", failures)}");
            // Styled: MudBlazor's stylesheet really arrived.
            Assert.Equal("border-box", await page.EvaluateAsync<string>("() => getComputedStyle(document.body).boxSizing"));

            await AppBrowserSession.SignInAsync(page, PublishedAppSession.AdminEmail);
            await page.WaitForURLAsync("**/studio");
            // Blazor's script ran and opened the circuit (over a WebSocket) to the published server.
            await AppBrowserSession.WaitForCircuitAsync(page);
            Assert.Equal("Studio", (await page.Locator("h1").InnerTextAsync()).Trim());
            await page.Locator("a[href='admin']").WaitForAsync();
            await AppBrowserSession.ScreenshotAsync(page, "published-studio-desktop");

            var before = await page.Locator("[data-testid=theme-toggle]").GetAttributeAsync("aria-label");
            await page.ClickAsync("[data-testid=theme-toggle]");
            await Assertions.Expect(page.Locator("[data-testid=theme-toggle]")).Not.ToHaveAttributeAsync("aria-label", before!);

            await page.ClickAsync("[data-testid=sign-out]");
            await page.WaitForURLAsync("**/Account/Login");
            Assert.Empty(failures);
        }
        catch
        {
            await AppBrowserSession.ScreenshotAsync(page, "published-sign-in-failure");
            Console.WriteLine($"published app: what the page saw: {string.Join("; ", failures)}");
            throw;
        }
    }

    [Fact]
    public async Task It_runs_as_the_images_user_and_writes_only_to_its_volumes_while_it_generates_through_the_api()
    {
        var app = session.App;
        if (PublishedApp.RunningAsRoot)
        {
            var status = await File.ReadAllLinesAsync($"/proc/{app.ProcessId}/status");
            Assert.Matches($@"^Uid:\s+{PublishedApp.ImageUserId}\s", status.Single(l => l.StartsWith("Uid:", StringComparison.Ordinal)));
        }

        var key = (await app.RunCommandAsync(null, "apikeys", "create", "--user", PublishedAppSession.AdminEmail, "--name", "read-only-check", "--scope", "generate")).Trim();
        using var http = new HttpClient { BaseAddress = new Uri(session.BaseUrl + "/") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var submitted = await http.PostAsJsonAsync("api/v1/generations", new { model = PublishedAppSession.DistilledModel, prompt = "a lighthouse at dusk", width = 256, height = 256, seed = 5 });
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        var jobId = (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobIds")[0].GetString();

        var generation = System.Diagnostics.Stopwatch.StartNew();
        var last = default(JsonElement);
        var job = await Eventually.Value(
            async () =>
            {
                last = await http.GetFromJsonAsync<JsonElement>($"api/v1/jobs/{jobId}");
                var state = last.GetProperty("state").GetString();
                Assert.True(state is "Queued" or "Running" or "Succeeded", $"job {jobId}: {last}");
                return last;
            },
            j => j.GetProperty("state").GetString() is "Succeeded",
            () => $"job {jobId}: {last}",
            TimeSpan.FromSeconds(90));

        var png = await http.GetByteArrayAsync(job.GetProperty("outputUrl").GetString()!.TrimStart('/') + "?download=true");
        var file = Path.Combine(app.TempDirectory, "output.png");
        await File.WriteAllBytesAsync(file, png);
        var verified = JsonDocument.Parse(await app.RunCommandAsync(null, "verify", file)).RootElement;
        Assert.True(verified.GetProperty("watermark").GetProperty("present").GetBoolean(), verified.ToString());
        Assert.Contains(verified.GetProperty("c2pa").GetProperty("state").GetString(), new[] { "Valid", "Trusted" });

        // Nothing was written beside the executable or in HOME (read-only in the image); the
        // database, keys, signing certificate and images are in the data volume.
        var published = File.GetLastWriteTimeUtc(app.PublishFolder + ".complete");
        var touched = Directory.EnumerateFileSystemEntries(app.PublishFolder, "*", SearchOption.AllDirectories)
            .Where(path => File.GetLastWriteTimeUtc(path) > published).ToList();
        Assert.True(touched.Count == 0, $"written under the publish folder: {string.Join(", ", touched)}");
        Assert.Empty(Directory.EnumerateFileSystemEntries(app.HomeDirectory));
        Assert.True(File.Exists(Path.Combine(app.DataDirectory, "fluxweb.db")));
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(app.DataDirectory, "keys", "data-protection"), "*.xml"));
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(app.DataDirectory, "images"), "*.png", SearchOption.AllDirectories));

        var errors = app.Log.Split('\n').Where(line => ErrorLogLine().IsMatch(line)).ToList();
        Assert.True(errors.Count == 0, $"the published app logged errors:\n{string.Join('\n', errors)}");
        Console.WriteLine($"published app: a 256² demo image through the API in {generation.Elapsed.TotalSeconds:F1} s; runs as uid {(PublishedApp.RunningAsRoot ? PublishedApp.ImageUserId.ToString(CultureInfo.InvariantCulture) : "of the test runner")}");
    }

    [Fact]
    public async Task An_incomplete_install_logs_the_missing_asset_at_start_and_answers_it_with_404_not_an_empty_200()
    {
        // The same executable with a web root that lacks the app's stylesheet (an interrupted copy).
        await using var app = await PublishedApp.CreateAsync("published-app-incomplete");
        var contentRoot = Path.Combine(app.Root, "incomplete");
        foreach (var file in Directory.EnumerateFiles(Path.Combine(app.PublishFolder, "wwwroot"), "*", SearchOption.AllDirectories))
        {
            var copy = Path.Combine(contentRoot, "wwwroot", Path.GetRelativePath(Path.Combine(app.PublishFolder, "wwwroot"), file));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            if (!Path.GetFileName(file).StartsWith("app.css", StringComparison.Ordinal))
            {
                File.Copy(file, copy);
            }
        }

        await app.StartAsync("--contentRoot", contentRoot);
        await WaitForLogAsync(app, line => line.Contains("\"LogLevel\":\"Critical\"", StringComparison.Ordinal) && line.Contains("css/app.css is not in the web root", StringComparison.Ordinal));

        using var http = new HttpClient { BaseAddress = new Uri(app.BaseUrl + "/") };
        var html = await http.GetStringAsync("Account/Login");
        var stylesheet = References(html).First(r => r.Url.StartsWith("css/app.", StringComparison.Ordinal)).Url;
        using var missing = await http.GetAsync(stylesheet);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        await WaitForLogAsync(app, line => line.Contains("\"LogLevel\":\"Error\"", StringComparison.Ordinal) && line.Contains($"Static asset {stylesheet} answered 404", StringComparison.Ordinal));

        // Everything that is there is still served.
        var script = References(html).First(r => r.Url.StartsWith("_framework/blazor.web.", StringComparison.Ordinal)).Url;
        using var present = await http.GetAsync(script);
        Assert.Equal(HttpStatusCode.OK, present.StatusCode);
        Assert.True((await present.Content.ReadAsByteArrayAsync()).Length > 100_000);
    }

    private static async Task WaitForLogAsync(PublishedApp app, Func<string, bool> match)
    {
        await Eventually.Until(() => app.Log.Split('\n').Any(match), () => $"The expected line never appeared in the log:\n{app.Log}");
    }

    /// <summary>Stylesheets, scripts, the icon and the import map's modules, with the integrity the page states for each.</summary>
    private static List<(string Url, string? Integrity)> References(string html)
    {
        var found = new List<(string Url, string? Integrity)>();
        foreach (Match tag in Tag().Matches(html))
        {
            var url = tag.Groups["url"].Value;
            if (!url.StartsWith("http", StringComparison.Ordinal) && !url.StartsWith('#') && (tag.Groups["kind"].Value == "script" || LinkToAsset().IsMatch(tag.Value)))
            {
                found.Add((url.TrimStart('.', '/'), Integrity().Match(tag.Value) is { Success: true } i ? i.Groups[1].Value : null));
            }
        }

        var importMap = ImportMap().Match(html);
        Assert.True(importMap.Success, "The page has no import map.");
        var map = JsonDocument.Parse(importMap.Groups[1].Value).RootElement;
        var integrity = map.GetProperty("integrity").EnumerateObject().ToDictionary(p => p.Name.TrimStart('.', '/'), p => p.Value.GetString());
        foreach (var module in map.GetProperty("imports").EnumerateObject())
        {
            var url = module.Value.GetString()!.TrimStart('.', '/');
            found.Add((url, integrity.GetValueOrDefault(url)));
        }

        return found;
    }

    private static byte[] Decompress(byte[] body, string encoding)
    {
        using var input = new MemoryStream(body);
        using Stream decoder = encoding == "br" ? new BrotliStream(input, CompressionMode.Decompress) : new GZipStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        decoder.CopyTo(output);
        return output.ToArray();
    }

    [GeneratedRegex(@"<(?<kind>link|script)\b[^>]*?\b(?:href|src)=""(?<url>[^""]+)""[^>]*>")]
    private static partial Regex Tag();

    [GeneratedRegex(@"\brel=""(?:stylesheet|icon|preload|modulepreload)""")]
    private static partial Regex LinkToAsset();

    [GeneratedRegex(@"\bintegrity=""([^""]+)""")]
    private static partial Regex Integrity();

    [GeneratedRegex(@"<script type=""importmap"">(.*?)</script>", RegexOptions.Singleline)]
    private static partial Regex ImportMap();

    [GeneratedRegex(@"""LogLevel"":""(Error|Critical)""")]
    private static partial Regex ErrorLogLine();
}
