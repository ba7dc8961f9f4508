using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using FluxWeb.Application.ApiKeys;
using FluxWeb.Application.Audit;
using FluxWeb.Domain.ApiKeys;
using FluxWeb.Host.Cli;
using FluxWeb.Host.Endpoints;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Testing;
using FluxWeb.Testing.Safety;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Web.Tests.Safety;

/// <summary>Image filtering on by default: the background install and its states, flagged uploads refused at every door, the CLI.</summary>
public sealed class ImageSafetyTests
{
    [Fact]
    public async Task A_fresh_server_installs_the_classifier_in_the_background_and_healthz_turns_on()
    {
        await using var registry = await FakeNpmRegistry.StartAsync();
        using var factory = new FluxWebFactory().With("Provenance:Filters:AutoInstall", "true").With("Provenance:Filters:Registry", registry.Url);
        var client = await AdministratorAsync(factory);

        var filtering = await WaitForFilteringAsync(client, state => state != "installing");

        Assert.Equal("on", filtering.GetProperty("state").GetString());
        Assert.True(filtering.GetProperty("enabled").GetBoolean());
        Assert.Contains("Image filtering is on: nsfwjs 4.4.0 MobileNetV2, flagged when Porn + Hentai ≥ 0.7 or Sexy ≥ 0.9", filtering.GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(factory.ModelsDirectory, "safety", "nsfwjs-mobilenet-v2", "manifest.json")));
        Assert.Contains(factory.Logs.Lines, m => m.Contains("installing nsfwjs 4.4.0", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unreachable_registry_leaves_filtering_off_with_the_reason_and_the_server_running()
    {
        using var factory = new FluxWebFactory().With("Provenance:Filters:AutoInstall", "true").With("Provenance:Filters:Registry", $"http://127.0.0.1:{ClosedPort()}");
        var client = await AdministratorAsync(factory);

        var filtering = await WaitForFilteringAsync(client, state => state != "installing");

        Assert.Equal("off", filtering.GetProperty("state").GetString());
        var description = filtering.GetProperty("description").GetString()!;
        Assert.StartsWith("Image filtering is off: the classifier could not be installed automatically", description, StringComparison.Ordinal);
        Assert.Contains("cannot be reached", description, StringComparison.Ordinal);
        Assert.Contains("fluxweb safety install --from", description, StringComparison.Ordinal);
        var health = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Auto_install_off_says_so_and_how_to_turn_filtering_on()
    {
        using var factory = new FluxWebFactory();
        var filtering = await WaitForFilteringAsync(await AdministratorAsync(factory), state => state != "installing");

        Assert.Equal("off", filtering.GetProperty("state").GetString());
        Assert.Contains("Provenance:Filters:AutoInstall is false", filtering.GetProperty("description").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_flagged_reference_is_refused_through_the_studio_and_the_api_and_a_clean_one_is_stored()
    {
        using var factory = new FluxWebFactory().With("Accounts:Registration", "Open").WithEngine(new FakeImageGenerator());
        NsfwjsPackage.InstallInto(factory.ModelsDirectory);
        var studio = new SiteClient(factory.CreateBrowserClient());
        await studio.RegisterAsync("ada@example.com");
        using var flagged = TestPictures.Flagged();
        using var allowed = TestPictures.Allowed();

        // The Studio uploads with the cookie and the request header, as its drop zone's fetch does.
        var refused = await studio.Http.SendAsync(Upload(TestPictures.Png(flagged), cookie: true));
        await AssertRefusedAsync(refused);
        Assert.Equal(HttpStatusCode.Created, (await studio.Http.SendAsync(Upload(TestPictures.Png(allowed), cookie: true))).StatusCode);

        await using var scope = factory.Services.CreateAsyncScope();
        var adaId = (await scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>().FindByEmailAsync("ada@example.com"))!.Id;
        var (key, _) = await factory.Service<ApiKeyService>().CreateAsync(adaId, "script", ApiKeyScope.Generate, ChangeActor.CommandLine);
        var api = factory.CreateClient();
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key!.Key);
        await AssertRefusedAsync(await api.SendAsync(Upload(TestPictures.Png(flagged), cookie: false)));
        Assert.Equal(HttpStatusCode.Created, (await api.SendAsync(Upload(TestPictures.Png(allowed), cookie: false))).StatusCode);

        Assert.Equal(2, GalleryRowsCount(factory));
    }

    [Fact]
    public async Task The_cli_installs_checks_and_refuses_a_flagged_reference_for_the_operator_and_as_a_user()
    {
        using var folder = new TempFolder();
        var (data, models) = (folder.Combine("data"), folder.Combine("models"));
        QueueHost.InstallModels(models);
        using (var flagged = TestPictures.Flagged())
        using (var allowed = TestPictures.Allowed())
        {
            File.WriteAllBytes(folder.Combine("flagged.png"), TestPictures.Png(flagged));
            File.WriteAllBytes(folder.Combine("allowed.png"), TestPictures.Png(allowed));
        }

        var install = await RunAsync("safety", "install", "--from", NsfwjsPackage.TarballPath, "--models", models, "--data", data);
        Assert.True(install.Code == 0, install.Error);
        using (var json = JsonDocument.Parse(Assert.Single(install.Out.Trim().Split('\n'))))
        {
            Assert.Equal(("nsfwjs", "4.4.0", "MIT", "file"), (json.RootElement.GetProperty("package").GetString(), json.RootElement.GetProperty("version").GetString(), json.RootElement.GetProperty("licence").GetString(), json.RootElement.GetProperty("source").GetString()));
            Assert.Equal(NsfwjsPackage.LockedIntegrity(), json.RootElement.GetProperty("integrity").GetString());
        }

        var check = await RunAsync("safety", "check", folder.Combine("flagged.png"), "--models", models, "--data", data);
        Assert.True(check.Code == 0, check.Error);
        using (var json = JsonDocument.Parse(check.Out.Trim()))
        {
            var root = json.RootElement;
            Assert.Equal(folder.Combine("flagged.png"), root.GetProperty("file").GetString());
            Assert.Equal("flagged", root.GetProperty("verdict").GetString());
            Assert.Equal("nsfwjs 4.4.0 MobileNetV2", root.GetProperty("model").GetString());
            Assert.Equal(["Drawing", "Hentai", "Neutral", "Porn", "Sexy"], root.GetProperty("classes").EnumerateObject().Select(p => p.Name));
            Assert.True(root.GetProperty("classes").GetProperty("Porn").GetDouble() > 0.7);
        }

        var clean = await RunAsync("safety", "check", folder.Combine("allowed.png"), "--models", models, "--data", data);
        Assert.Contains("\"verdict\":\"allowed\"", clean.Out, StringComparison.Ordinal);

        // The operator tool and generation as an account both screen references before anything runs.
        var operatorRun = await RunAsync("generate", "--model", QueueHost.ModelId, "--prompt", "x", "--ref", folder.Combine("flagged.png"), "--out", folder.Combine("o.png"), "--models", models, "--data", data);
        Assert.NotEqual(0, operatorRun.Code);
        Assert.Contains("flagged by the content filter", operatorRun.Error, StringComparison.Ordinal);

        var created = await RunAsync("users", "create", "--email", "ada@example.com", "--password", SiteClient.StrongPassword, "--data", data);
        Assert.True(created.Code == 0, created.Error);
        var asUser = await RunAsync("generate", "--user", "ada@example.com", "--model", QueueHost.ModelId, "--prompt", "x", "--ref", folder.Combine("flagged.png"), "--out", folder.Combine("u.png"), "--models", models, "--data", data);
        Assert.NotEqual(0, asUser.Code);
        Assert.Equal("error: This image was flagged by the content filter and cannot be used. Choose another image.", asUser.Error.Trim().Split('\n').Last());
        Assert.False(File.Exists(folder.Combine("u.png")));
    }

    [Fact]
    public async Task Check_without_a_classifier_fails_with_the_reason()
    {
        using var folder = new TempFolder();
        using (var allowed = TestPictures.Allowed())
        {
            File.WriteAllBytes(folder.Combine("a.png"), TestPictures.Png(allowed));
        }

        var check = await RunAsync("safety", "check", folder.Combine("a.png"), "--models", folder.Combine("models"), "--data", folder.Combine("data"));

        Assert.NotEqual(0, check.Code);
        Assert.StartsWith("error: Image filtering is off: no classifier installed", check.Error.Trim(), StringComparison.Ordinal);
    }

    private static int GalleryRowsCount(FluxWebFactory factory)
    {
        using var db = factory.Service<Microsoft.EntityFrameworkCore.IDbContextFactory<FluxWeb.Persistence.FluxWebDbContext>>().CreateDbContext();
        return db.Images.Count();
    }

    private static async Task AssertRefusedAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Contains("flagged by the content filter and cannot be used", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private static HttpRequestMessage Upload(byte[] png, bool cookie)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, ImageUploadEndpoints.CollectionPath) { Content = new ByteArrayContent(png) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        if (cookie)
        {
            request.Headers.Add("X-FluxWeb-Request", "1");
        }

        return request;
    }

    /// <summary>The filter's state is an administrator's detail of /healthz; the first account registered is one.</summary>
    private static async Task<HttpClient> AdministratorAsync(FluxWebFactory factory)
    {
        var admin = new SiteClient(factory.CreateBrowserClient());
        await admin.RegisterAsync("admin@example.com");
        return admin.Http;
    }

    private static async Task<JsonElement> WaitForFilteringAsync(HttpClient client, Func<string, bool> until)
    {
        var last = default(JsonElement);
        return await Eventually.Value(
            async () =>
            {
                using var json = JsonDocument.Parse(await client.GetStringAsync("/healthz"));
                return last = json.RootElement.GetProperty("imageFiltering").Clone();
            },
            filtering => until(filtering.GetProperty("state").GetString()!),
            () => $"/healthz's image filtering is still {last}",
            TimeSpan.FromSeconds(90));
    }

    private static async Task<(int Code, string Out, string Error)> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var code = await FluxWebCli.RunAsync(args, new CliOutput(stdout, stderr));
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
