using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Jobs;
using FluxWeb.Host.Hosting;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Web.Tests.Licensing;

/// <summary>
/// Every route of the app, read from the route table: each must declare whether it gives out image
/// bytes or image-derived data (<see cref="ImageDataAttribute"/>), and each one that does is
/// exercised as the switched account (cookie and API key) against the non-commercial job's images,
/// jobs and events. A new image route without a declaration, or without a probe here, fails.
/// </summary>
public sealed class LicenceRouteTests(SwitchedAccount scenario) : IClassFixture<SwitchedAccount>
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G'];

    private delegate Task Probe(HttpClient client, string route);

    private IReadOnlyList<RouteEndpoint> Endpoints() =>
        [.. scenario.Factory.Services.GetServices<EndpointDataSource>().SelectMany(s => s.Endpoints).OfType<RouteEndpoint>()];

    private static string Describe(RouteEndpoint endpoint) =>
        $"{string.Join(",", endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["*"])} /{endpoint.RoutePattern.RawText!.TrimStart('/')}";

    /// <summary>The route as written, with a group's trailing slash dropped (<c>/api/v1/jobs/</c> is <c>/api/v1/jobs</c>).</summary>
    private static string Pattern(RouteEndpoint endpoint) => "/" + endpoint.RoutePattern.RawText!.Trim('/');

    [Fact]
    public void Every_route_declares_whether_it_serves_image_data()
    {
        var endpoints = Endpoints();
        var undeclared = endpoints.Where(e => e.Metadata.GetMetadata<ImageDataAttribute>() is null).Select(e => $"{Describe(e)} ({e.DisplayName})").Distinct().ToList();

        Assert.True(endpoints.Count > 50, $"Only {endpoints.Count} routes: is the route table complete?");
        Assert.True(undeclared.Count == 0, $"Routes without [ImageData] (say what they serve): {string.Join("; ", undeclared)}");
        // The ones that obviously do, declared as such (a sanity check of the declarations themselves).
        foreach (var (route, kind) in new[]
        {
            ("/api/v1/images/{id:guid}", ImageDataKind.Bytes), ("/api/v1/images/{id:guid}/thumbnail", ImageDataKind.Bytes),
            ("/api/v1/uploads/masks/{id:guid}", ImageDataKind.Bytes), ("/api/v1/jobs/{id:guid}/preview", ImageDataKind.Bytes),
            ("/api/v1/jobs", ImageDataKind.Derived), ("/api/v1/hub", ImageDataKind.Derived), ("/gallery", ImageDataKind.Derived), ("/studio", ImageDataKind.Derived),
        })
        {
            Assert.Contains(endpoints, e => Pattern(e) == route && e.Metadata.GetMetadata<ImageDataAttribute>()!.Kind == kind);
        }
    }

    [Fact]
    public async Task Every_image_route_refuses_the_switched_account_everything_of_the_non_commercial_job()
    {
        var probes = new Dictionary<string, Probe>(StringComparer.Ordinal)
        {
            ["/api/v1/images/{id:guid}"] = ImageBytesAsync,
            ["/api/v1/images/{id:guid}/thumbnail"] = (client, route) => RefusedAsync(client, HttpMethod.Get, Id(route, scenario.NcImage), HttpStatusCode.Forbidden),
            ["/api/v1/images/{id:guid}/favourite"] = ImageActionsAsync,
            ["/api/v1/uploads/masks/{id:guid}"] = (client, route) => RefusedAsync(client, HttpMethod.Get, Id(route, scenario.NcImage), HttpStatusCode.NotFound),
            ["/api/v1/images"] = ImageListAsync,
            ["/api/v1/jobs"] = (client, route) => NoSecretsAsync(client, $"{route}?finished=200"),
            ["/api/v1/jobs/{id:guid}"] = JobViewsAsync,
            ["/api/v1/jobs/{id:guid}/preview"] = (client, route) => RefusedAsync(client, HttpMethod.Get, Id(route, scenario.RunningNcJob), HttpStatusCode.Forbidden),
            ["/api/v1/jobs/{id:guid}/cancel"] = CancelAsync,
            ["/api/v1/uploads/images"] = (client, route) => UploadAsync(client, route),
            ["/api/v1/uploads/masks"] = (client, route) => UploadAsync(client, route),
            ["/api/v1/generations"] = GenerationsAsync,
            ["/api/v1/boards"] = BoardListsAsync,
            ["/api/v1/boards/{id:guid}"] = BoardPageAsync,
            ["/api/v1/boards/{id:guid}/images"] = BoardAddAsync,
            ["/api/v1/boards/{id:guid}/images/{imageId:guid}"] = (client, route) =>
                RefusedAsync(client, HttpMethod.Delete, route.Replace("{id:guid}", scenario.NcBoard.ToString(), StringComparison.Ordinal).Replace("{imageId:guid}", scenario.NcImage.ToString(), StringComparison.Ordinal), HttpStatusCode.NotFound),
            ["/api/v1/boards/{id:guid}/order"] = BoardOrderAsync,
            ["/api/v1/boards/{id:guid}/shares"] = BoardSharesAsync,
            ["/api/v1/images/{id:guid}/shares"] = ImageSharesAsync,
            ["/api/v1/images/{id:guid}/reuse"] = (client, route) => RefusedAsync(client, HttpMethod.Post, Id(route, scenario.NcImage), HttpStatusCode.Forbidden),
            ["/api/v1/images/{id:guid}/extend"] = ExtendAsync,
            ["/api/v1/images/{id:guid}/vary"] = (client, route) => RefusedAsync(client, HttpMethod.Post, Id(route, scenario.NcImage), HttpStatusCode.Forbidden, JsonContent.Create(new { strength = "strong" })),
            ["/api/v1/images/{id:guid}/more"] = (client, route) => RefusedAsync(client, HttpMethod.Post, Id(route, scenario.NcImage), HttpStatusCode.Forbidden, JsonContent.Create(new { count = 2 })),
            ["/api/v1/images/{id:guid}/upscale"] = (client, route) => RefusedAsync(client, HttpMethod.Post, Id(route, scenario.NcImage), HttpStatusCode.Forbidden),
            ["/api/v1/shares/{id:guid}"] = EndShareAsync,
            ["/api/v1/feed"] = FeedAsync,
            ["/api/v1/exports"] = ExportPrepareAsync,
            ["/api/v1/exports/{ticket:guid}"] = ExportDownloadAsync,
            ["/admin/usage.csv"] = AdminOnlyAsync,
            ["/admin/audit.csv"] = AdminOnlyAsync,
        };
        // Pages: the prerendered HTML the switched account gets carries nothing of the job (the live
        // circuit reads the same services; the Studio's deep links are in StudioPageTests).
        var pages = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["/"] = "/",
            ["/studio"] = $"/studio?settings={scenario.NcImage}",
            ["/gallery"] = "/gallery",
            ["/gallery/{Id:guid}"] = $"/gallery/{scenario.NcImage}",
            // The prompt history keeps every prompt the person wrote (PromptHistoryQueryTests); its images and ids are what it must not offer.
            ["/history"] = "/history",
            ["/studio/mask-editor"] = $"/studio/mask-editor?image=%2Fapi%2Fv1%2Fimages%2F{scenario.NcImage}",
            ["/boards"] = "/boards",
            ["/boards/{Id:guid}"] = $"/boards/{scenario.NcBoard}",
            ["/team"] = "/team",
        };

        var imageRoutes = Endpoints().Where(e => e.Metadata.GetMetadata<ImageDataAttribute>()?.Kind is ImageDataKind.Bytes or ImageDataKind.Derived).ToList();
        var hub = imageRoutes.Where(e => Pattern(e).StartsWith(ApiAuthentication.HubPath, StringComparison.Ordinal)).ToList();
        var adminPages = imageRoutes.Where(e => e.Metadata.GetMetadata<Microsoft.AspNetCore.Components.Endpoints.ComponentTypeMetadata>() is not null && Pattern(e).StartsWith("/admin", StringComparison.Ordinal)).ToList();
        var unprobed = imageRoutes.Except(hub).Except(adminPages)
            .Where(e => !probes.ContainsKey(Pattern(e)) && !pages.ContainsKey(Pattern(e)))
            .Select(Describe).Distinct().ToList();
        Assert.True(unprobed.Count == 0, $"Image routes this test does not exercise (add a probe): {string.Join("; ", unprobed)}");
        Assert.NotEmpty(hub);
        Assert.NotEmpty(adminPages);

        using var key = scenario.KeyClient(scenario.NicoKey);
        foreach (var (route, probe) in probes.Where(p => imageRoutes.Any(e => Pattern(e) == p.Key)))
        {
            await probe(scenario.Nico.Http, route);
            await probe(key, route);
        }

        foreach (var (route, url) in pages)
        {
            Assert.Contains(imageRoutes, e => Pattern(e) == route);
            var response = await scenario.Nico.Http.GetAsync(url);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {url}: {(int)response.StatusCode}");
            var html = await response.Content.ReadAsStringAsync();
            var exempt = route switch
            {
                "/history" => [SwitchedAccount.SecretPrompt],
                "/gallery/{Id:guid}" or "/studio/mask-editor" or "/studio" => [scenario.NcImage.ToString()],
                _ => Array.Empty<string>(),
            };
            AssertNoSecrets(html, $"GET {url}", exempt);
            if (route is "/team" or "/boards/{Id:guid}" or "/boards")
            {
                // And for his Commercial teammate, with whom it was shared (on the team board, and directly).
                var teammate = await scenario.Ada.Http.GetAsync(url);
                Assert.True(teammate.StatusCode == HttpStatusCode.OK, $"Ada's GET {url}: {(int)teammate.StatusCode}");
                AssertNoSecrets(await teammate.Content.ReadAsStringAsync(), $"Ada's GET {url}");
            }
        }

        foreach (var page in adminPages.Select(Pattern).Where(p => !p.Contains('{', StringComparison.Ordinal)).Distinct())
        {
            var response = await scenario.Nico.Http.GetAsync(page);
            Assert.True(response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Forbidden, $"GET {page} as a user: {(int)response.StatusCode}");
            AssertNoSecrets(await response.Content.ReadAsStringAsync(), $"GET {page}");
        }

        // Last, as it lets the held job finish: the hub sends nothing more of any non-commercial job.
        await HubAsync();
    }

    private static string Id(string route, Guid id) => route.Replace("{id:guid}", id.ToString(), StringComparison.Ordinal);

    /// <summary>Whether the route <paramref name="url"/> reaches takes API keys (the Api policies), from its endpoint's metadata.</summary>
    private bool KeysAccepted(HttpMethod method, string url)
    {
        var path = new Uri(new Uri("http://x"), url).AbsolutePath;
        var endpoint = Endpoints().Single(e =>
            (e.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods.Contains(method.Method) ?? false)
            && !e.RoutePattern.Parameters.Any(p => p.IsCatchAll)
            && new TemplateMatcher(new RouteTemplate(e.RoutePattern), []).TryMatch(path, []));
        return endpoint.Metadata.GetOrderedMetadata<Microsoft.AspNetCore.Authorization.IAuthorizeData>()
            .Any(a => a.Policy is ApiAuthentication.ApiPolicy or ApiAuthentication.ApiWritePolicy);
    }

    private void AssertNoSecrets(string body, string what, IReadOnlyCollection<string>? exempt = null)
    {
        foreach (var secret in scenario.Secrets.Except(exempt ?? []))
        {
            Assert.False(body.Contains(secret, StringComparison.OrdinalIgnoreCase), $"{what} gave out '{secret}' of the non-commercial job: {body[..Math.Min(body.Length, 2000)]}");
        }
    }

    private static HttpRequestMessage Request(HttpMethod method, string url, HttpContent? content = null)
    {
        var request = new HttpRequestMessage(method, url) { Content = content };
        request.Headers.Add("X-FluxWeb-Request", "1");
        return request;
    }

    /// <summary>
    /// The answer must be <paramref name="expected"/>; on routes that take the cookie only (the gallery's), an API key
    /// is not even let in (401), which gives out nothing either.
    /// </summary>
    private async Task RefusedAsync(HttpClient client, HttpMethod method, string url, HttpStatusCode expected, HttpContent? content = null)
    {
        var response = await client.SendAsync(Request(method, url, content));
        var body = await response.Content.ReadAsByteArrayAsync();
        var keyNotLetIn = client != scenario.Nico.Http && response.StatusCode == HttpStatusCode.Unauthorized && !KeysAccepted(method, url);
        Assert.True(response.StatusCode == expected || keyNotLetIn, $"{method} {url}: {(int)response.StatusCode}, expected {(int)expected}");
        Assert.False(body.AsSpan().StartsWith(PngSignature), $"{method} {url} answered with a picture");
        AssertNoSecrets(System.Text.Encoding.UTF8.GetString(body), $"{method} {url}");
    }

    private async Task NoSecretsAsync(HttpClient client, string url)
    {
        var response = await client.GetAsync(url);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {url}: {(int)response.StatusCode}");
        AssertNoSecrets(await response.Content.ReadAsStringAsync(), $"GET {url}");
    }

    private async Task ImageBytesAsync(HttpClient client, string route)
    {
        var url = Id(route, scenario.NcImage);
        await RefusedAsync(client, HttpMethod.Get, url, HttpStatusCode.Forbidden);
        await RefusedAsync(client, HttpMethod.Get, $"{url}?download=true", HttpStatusCode.Forbidden);
        // Holding the file's tag from before the switch is no way back in: no 304 for what may not be received.
        var conditional = Request(HttpMethod.Get, url);
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(scenario.NcPng));
        conditional.Headers.IfNoneMatch.Add(new EntityTagHeaderValue($"\"{sha}\""));
        Assert.Equal(HttpStatusCode.Forbidden, (await client.SendAsync(conditional)).StatusCode);
    }

    private async Task ImageActionsAsync(HttpClient client, string route)
    {
        await RefusedAsync(client, HttpMethod.Post, Id(route, scenario.NcImage), HttpStatusCode.Forbidden);
        await RefusedAsync(client, HttpMethod.Delete, Id(route, scenario.NcImage), HttpStatusCode.Forbidden);
        await RefusedAsync(client, HttpMethod.Delete, Id("/api/v1/images/{id:guid}", scenario.NcImage), HttpStatusCode.Forbidden);
        Assert.True(await scenario.WithDbAsync(db => db.Images.AnyAsync(i => i.Id == scenario.NcImage && !i.Favourite)), "The refused actions changed the image.");
    }

    private async Task ImageListAsync(HttpClient client, string route)
    {
        foreach (var kind in new[] { "Output", "Upload", "Mask" })
        {
            await NoSecretsAsync(client, $"{route}?kind={kind}&pageSize=200");
        }
    }

    private async Task JobViewsAsync(HttpClient client, string route)
    {
        foreach (var job in new[] { scenario.NcJob, scenario.RunningNcJob, scenario.QueuedNcJob })
        {
            await RefusedAsync(client, HttpMethod.Get, Id(route, job), HttpStatusCode.Forbidden);
        }
    }

    private async Task CancelAsync(HttpClient client, string route)
    {
        foreach (var job in new[] { scenario.RunningNcJob, scenario.QueuedNcJob })
        {
            await RefusedAsync(client, HttpMethod.Post, Id(route, job), HttpStatusCode.Forbidden);
        }

        var states = await scenario.WithDbAsync(db => db.Jobs.AsNoTracking().Where(j => j.Id == scenario.RunningNcJob || j.Id == scenario.QueuedNcJob).Select(j => new { j.Id, j.State, j.CancelRequested }).ToListAsync());
        Assert.Equal(JobState.Running, states.Single(j => j.Id == scenario.RunningNcJob).State);
        Assert.Equal(JobState.Queued, states.Single(j => j.Id == scenario.QueuedNcJob).State);
        Assert.DoesNotContain(states, j => j.CancelRequested);
    }

    private async Task UploadAsync(HttpClient client, string route)
    {
        var png = new ByteArrayContent(scenario.NcPng);
        png.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        await RefusedAsync(client, HttpMethod.Post, route, HttpStatusCode.Forbidden, png);
    }

    private async Task GenerationsAsync(HttpClient client, string route)
    {
        object[] requests =
        [
            new { model = QueueHost.ModelId, prompt = "as a reference", referenceImageIds = new[] { scenario.NcImage } },
            new { model = QueueHost.ModelId, prompt = "as the source", sourceImageId = scenario.NcImage, maskImageId = scenario.NcImage },
            new { model = QueueHost.ModelId, prompt = "as the mask", sourceImageId = scenario.Upload, maskImageId = scenario.NcImage },
            new { model = QueueHost.OtherModelId, prompt = "with the model itself" },
        ];
        foreach (var body in requests)
        {
            await RefusedAsync(client, HttpMethod.Post, route, HttpStatusCode.Forbidden, JsonContent.Create(body));
        }
    }

    /// <summary>Neither the output nor the canvas of its extension before the switch: not extended, read, listed or used as an input.</summary>
    private async Task ExtendAsync(HttpClient client, string route)
    {
        await RefusedAsync(client, HttpMethod.Post, Id(route, scenario.NcImage), HttpStatusCode.Forbidden, JsonContent.Create(new { left = 32, right = 32 }));
        await RefusedAsync(client, HttpMethod.Get, $"/api/v1/images/{scenario.NcCanvas}", HttpStatusCode.Forbidden);
        await RefusedAsync(client, HttpMethod.Get, $"/api/v1/images/{scenario.NcCanvas}/thumbnail", HttpStatusCode.Forbidden);
        await NoSecretsAsync(client, "/api/v1/images?kind=Upload");
        await RefusedAsync(client, HttpMethod.Post, "/api/v1/generations", HttpStatusCode.Forbidden,
            JsonContent.Create(new { model = QueueHost.ModelId, prompt = "the canvas again", sourceImageId = scenario.NcCanvas, maskImageId = scenario.NcCanvas }));
    }

    private async Task BoardListsAsync(HttpClient client, string route)
    {
        await NoSecretsAsync(client, route);
        await NoSecretsAsync(scenario.Ada.Http, route);
    }

    /// <summary>The board the switched account shared before the switch: neither he nor his Commercial teammate gets the non-commercial image from it.</summary>
    private async Task BoardPageAsync(HttpClient client, string route)
    {
        foreach (var reader in new[] { client, scenario.Ada.Http })
        {
            var page = await reader.GetFromJsonAsync<JsonElement>($"{Id(route, scenario.NcBoard)}?pageSize=200");
            Assert.Equal([scenario.ApacheImage], page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid()));
            Assert.Equal(1, page.GetProperty("hiddenByLicence").GetInt32());
            AssertNoSecrets(page.GetRawText(), $"GET {route}");
        }
    }

    private async Task BoardAddAsync(HttpClient client, string route)
    {
        var board = await scenario.WithDbAsync(db => db.Boards.Where(b => b.Id == scenario.NcBoard).Select(b => b.Id).SingleAsync());
        var other = (await scenario.Factory.Service<FluxWeb.Application.Boards.BoardService>().CreateAsync(new JobActor(scenario.NicoId, false), "after the switch")).Value!.Id;
        var response = await client.SendAsync(Request(HttpMethod.Post, Id(route, other), JsonContent.Create(new { imageIds = new[] { scenario.NcImage } })));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("added").EnumerateArray());
        Assert.False(await scenario.WithDbAsync(db => db.BoardImages.AnyAsync(e => e.BoardId == other)), "A non-commercial output went on a board after the switch.");
        // Ada, a contributor of the team board, cannot put his image there either: only an image's owner does.
        var ada = await scenario.Ada.Http.SendAsync(Request(HttpMethod.Post, Id(route, board), JsonContent.Create(new { imageIds = new[] { scenario.NcImage } })));
        Assert.Equal(HttpStatusCode.OK, ada.StatusCode);
        Assert.Empty((await ada.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("added").EnumerateArray());
    }

    private async Task BoardOrderAsync(HttpClient client, string route)
    {
        var response = await client.SendAsync(Request(HttpMethod.Put, Id(route, scenario.NcBoard), JsonContent.Create(new { imageIds = new[] { scenario.ApacheImage, scenario.NcImage } })));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    private async Task BoardSharesAsync(HttpClient client, string route)
    {
        await NoSecretsAsync(client, Id(route, scenario.NcBoard));
        var response = await client.SendAsync(Request(HttpMethod.Post, Id(route, scenario.NcBoard), JsonContent.Create(new { team = true })));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertNoSecrets(await response.Content.ReadAsStringAsync(), $"POST {route}");
    }

    /// <summary>His own non-commercial output is not his to list the shares of or to share further any more.</summary>
    private async Task ImageSharesAsync(HttpClient client, string route)
    {
        await RefusedAsync(client, HttpMethod.Get, Id(route, scenario.NcImage), HttpStatusCode.Forbidden);
        await RefusedAsync(client, HttpMethod.Post, Id(route, scenario.NcImage), HttpStatusCode.Forbidden, JsonContent.Create(new { team = true }));
        Assert.False(await scenario.WithDbAsync(db => db.Shares.AnyAsync(s => s.ImageId == scenario.NcImage && s.GranteeId == null)), "The refused share was made.");
    }

    /// <summary>Ending a share gives out nothing; the first call ends it, the second finds nothing.</summary>
    private async Task EndShareAsync(HttpClient client, string route)
    {
        var response = await client.SendAsync(Request(HttpMethod.Delete, Id(route, scenario.ShareToEnd)));
        Assert.True(response.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.NotFound, $"DELETE {route}: {(int)response.StatusCode}");
        AssertNoSecrets(await response.Content.ReadAsStringAsync(), $"DELETE {route}");
    }

    /// <summary>The feed of the switched account and of his Commercial teammate, to whom the non-commercial image was shared twice (board and directly).</summary>
    private async Task FeedAsync(HttpClient client, string route)
    {
        await NoSecretsAsync(client, $"{route}?pageSize=200");
        var ada = await scenario.Ada.Http.GetFromJsonAsync<JsonElement>($"{route}?pageSize=200");
        Assert.Contains(scenario.ApacheImage, ada.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid()));
        Assert.True(ada.GetProperty("hiddenByLicence").GetInt32() >= 1);
        AssertNoSecrets(ada.GetRawText(), $"Ada's GET {route}");
    }

    /// <summary>Asking for his non-commercial image in a ZIP: by its id (the answer names only the id he sent), by his gallery, and by the team board, for him and his Commercial teammate.</summary>
    private async Task ExportPrepareAsync(HttpClient client, string route)
    {
        var byId = await client.SendAsync(Request(HttpMethod.Post, route, JsonContent.Create(new { imageIds = new[] { scenario.NcImage } })));
        Assert.Equal(HttpStatusCode.BadRequest, byId.StatusCode);
        AssertNoSecrets(await byId.Content.ReadAsStringAsync(), $"POST {route} by id", [scenario.NcImage.ToString()]);
        foreach (var (reader, body) in new (HttpClient, object)[] { (client, new { source = "mine" }), (client, new { board = scenario.NcBoard }), (scenario.Ada.Http, new { board = scenario.NcBoard }) })
        {
            var response = await reader.SendAsync(Request(HttpMethod.Post, route, JsonContent.Create(body)));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST {route} {JsonSerializer.Serialize(body)}: {(int)response.StatusCode} {text}");
            AssertNoSecrets(text, $"POST {route}");
        }
    }

    /// <summary>The ZIP of the team board, for him and his Commercial teammate: the Apache image only, and nothing of the non-commercial one in any file.</summary>
    private async Task ExportDownloadAsync(HttpClient client, string route)
    {
        foreach (var reader in new[] { client, scenario.Ada.Http })
        {
            var prepared = await (await reader.SendAsync(Request(HttpMethod.Post, "/api/v1/exports", JsonContent.Create(new { board = scenario.NcBoard })))).Content.ReadFromJsonAsync<JsonElement>();
            var response = await reader.GetAsync(prepared.GetProperty("downloadUrl").GetString());
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await using var zip = new System.IO.Compression.ZipArchive(new MemoryStream(await response.Content.ReadAsByteArrayAsync()));
            var images = new List<byte[]>();
            foreach (var entry in zip.Entries)
            {
                using var copy = new MemoryStream();
                await using (var stream = entry.Open())
                {
                    await stream.CopyToAsync(copy);
                }

                AssertNoSecrets(System.Text.Encoding.UTF8.GetString(copy.ToArray()), $"{route}: {entry.FullName}");
                if (entry.FullName.EndsWith(".png", StringComparison.Ordinal))
                {
                    images.Add(copy.ToArray());
                }
            }

            Assert.Equal([scenario.ApachePng], images);
        }

        await RefusedAsync(client, HttpMethod.Get, route.Replace("{ticket:guid}", Guid.NewGuid().ToString("N"), StringComparison.Ordinal), HttpStatusCode.NotFound);
    }

    private async Task AdminOnlyAsync(HttpClient client, string route)
    {
        var response = await client.GetAsync(route);
        Assert.True(response.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized or HttpStatusCode.Redirect, $"GET {route} as a user: {(int)response.StatusCode}");
        AssertNoSecrets(await response.Content.ReadAsStringAsync(), $"GET {route}");
    }

    private async Task HubAsync()
    {
        var events = new ConcurrentQueue<JsonElement>();
        await using var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(scenario.Factory.Server.BaseAddress, ApiAuthentication.HubPath), options =>
            {
                options.Transports = HttpTransportType.LongPolling;
                options.HttpMessageHandlerFactory = _ => scenario.Factory.Server.CreateHandler();
                options.AccessTokenProvider = () => Task.FromResult<string?>(scenario.NicoKey);
            })
            .Build();
        connection.On<JsonElement>("jobEvent", e => events.Enqueue(e));
        await connection.StartAsync();

        scenario.Running.Release();
        await scenario.WaitForEndAsync(scenario.NicoId, scenario.RunningNcJob);
        var marker = (await scenario.Factory.Service<GenerationService>().SubmitAsync(scenario.NicoId, QueueHost.Request("apache marker after the switch"))).JobIds.Single();
        await Eventually.Until(() => events.Any(e => e.GetProperty("jobId").GetGuid() == marker && e.GetProperty("kind").GetString() == "Succeeded"), "The marker job's end never reached the hub.");

        // The marker's events did arrive (the connection works); nothing of the non-commercial jobs did.
        foreach (var e in events)
        {
            AssertNoSecrets(e.GetRawText(), "A hub event");
        }

        var runningOutput = await scenario.WithDbAsync(db => db.Jobs.Where(j => j.Id == scenario.RunningNcJob).Select(j => j.OutputImageId).SingleAsync());
        Assert.NotNull(runningOutput);
        Assert.DoesNotContain(events, e => e.GetRawText().Contains(runningOutput.Value.ToString(), StringComparison.OrdinalIgnoreCase));
        // The job that waited was refused at the GPU's door, and even that is not announced to the account.
        Assert.Equal(JobState.Failed, (await scenario.WithDbAsync(db => db.Jobs.AsNoTracking().SingleAsync(j => j.Id == scenario.QueuedNcJob))).State);
    }
}
