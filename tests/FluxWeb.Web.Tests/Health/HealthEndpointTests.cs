using System.Net;
using System.Text.Json;
using FluxWeb.Application.Jobs;
using FluxWeb.Inference.Packages;
using FluxWeb.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Web.Tests.Health;

public sealed class HealthEndpointTests
{
    [Fact]
    public async Task Healthz_gives_an_administrator_json_with_database_device_and_models()
    {
        using var factory = new FluxWebFactory();
        TestModelPackages.WriteCatalogOnly(factory.ModelsDirectory, "good", ModelLicence.Apache2());
        WriteManifest(factory.ModelsDirectory, "unlicensed", """{"schemaVersion":1,"id":"unlicensed","displayName":"No licence","family":"tiny"}""");
        // The first account registered becomes the administrator.
        var admin = new SiteClient(factory.CreateBrowserClient());
        await admin.RegisterAsync("admin@example.com");

        var response = await admin.Http.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = json.RootElement;
        Assert.Equal("Healthy", root.GetProperty("status").GetString());
        Assert.True(root.GetProperty("database").GetProperty("reachable").GetBoolean());
        var device = root.GetProperty("device");
        Assert.Equal("CPU", device.GetProperty("kind").GetString());
        Assert.False(device.GetProperty("cuda").GetBoolean());
        Assert.Contains("Inference:Device", device.GetProperty("reason").GetString(), StringComparison.Ordinal);
        var served = Assert.Single(root.GetProperty("devices").EnumerateArray());
        Assert.Equal("cpu", served.GetProperty("id").GetString());
        Assert.True(served.GetProperty("served").GetBoolean());
        Assert.Equal(device.GetProperty("reason").GetString(), served.GetProperty("reason").GetString());

        var filtering = root.GetProperty("imageFiltering");
        Assert.False(filtering.GetProperty("enabled").GetBoolean());
        Assert.Contains("off", filtering.GetProperty("description").GetString(), StringComparison.OrdinalIgnoreCase);

        var models = root.GetProperty("models").EnumerateArray().ToDictionary(m => m.GetProperty("id").GetString()!);
        Assert.True(models["good"].GetProperty("usable").GetBoolean());
        Assert.Equal("Apache-2.0", models["good"].GetProperty("licence").GetString());
        Assert.False(models["unlicensed"].GetProperty("usable").GetBoolean());
        var error = models["unlicensed"].GetProperty("error").GetString()!;
        Assert.Contains("unlicensed/manifest.json", error, StringComparison.Ordinal);
        Assert.Contains("licence.id", error, StringComparison.Ordinal);
        // Nothing about the server's file system leaks, not even to an administrator.
        Assert.DoesNotContain(factory.ModelsDirectory, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(root.GetProperty("version").GetString()));

        // The cluster's workers (issue 18): this server's one device, idle, named after its silo and device.
        var worker = Assert.Single(root.GetProperty("workers").EnumerateArray());
        Assert.Equal("cpu", worker.GetProperty("device").GetString());
        Assert.Equal("Idle", worker.GetProperty("state").GetString());
        Assert.False(worker.GetProperty("draining").GetBoolean());
        Assert.EndsWith("/cpu", worker.GetProperty("workerId").GetString(), StringComparison.Ordinal);
        Assert.Equal(Environment.MachineName, worker.GetProperty("host").GetString());
    }

    [Fact]
    public async Task Healthz_lists_every_cpu_worker_to_an_administrator()
    {
        using var factory = new FluxWebFactory().With("Inference:CpuWorkers", "2");
        var admin = new SiteClient(factory.CreateBrowserClient());
        await admin.RegisterAsync("admin@example.com");

        using var json = JsonDocument.Parse(await admin.Http.GetStringAsync("/healthz"));

        Assert.Equal(["cpu", "cpu:1"], json.RootElement.GetProperty("devices").EnumerateArray().Select(d => d.GetProperty("id").GetString()));
        Assert.All(json.RootElement.GetProperty("devices").EnumerateArray(), d => Assert.Equal("CPU", d.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task Healthz_still_reports_to_an_administrator_when_the_dispatcher_does_not_answer_and_says_why_workers_are_missing()
    {
        using var factory = new FluxWebFactory().WithServices(services => services.AddSingleton<IWorkerDirectory>(new DispatcherDown()));
        var admin = new SiteClient(factory.CreateBrowserClient());
        await admin.RegisterAsync("admin@example.com");

        var response = await admin.Http.GetAsync("/healthz");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("Healthy", json.RootElement.GetProperty("status").GetString());
        Assert.Empty(json.RootElement.GetProperty("workers").EnumerateArray());
        Assert.Contains("dispatcher did not answer", json.RootElement.GetProperty("workersUnavailable").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("11112", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Healthz_tells_anonymous_callers_and_users_only_whether_the_server_is_healthy()
    {
        using var factory = new FluxWebFactory().With("Accounts:Registration", "Open");
        TestModelPackages.WriteCatalogOnly(factory.ModelsDirectory, "good", ModelLicence.Apache2());
        var admin = new SiteClient(factory.CreateBrowserClient());
        await admin.RegisterAsync("admin@example.com");
        var user = new SiteClient(factory.CreateBrowserClient());
        await user.RegisterAsync("user@example.com");

        foreach (var client in new[] { factory.CreateBrowserClient(), user.Http })
        {
            var response = await client.GetAsync("/healthz");

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            // What a load balancer or Docker's health check needs, and nothing that helps an attacker:
            // no build (commit hash), no device or library details, no model packages, no paths.
            Assert.Equal(["database", "status"], json.RootElement.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
            Assert.Equal("Healthy", json.RootElement.GetProperty("status").GetString());
            Assert.True(json.RootElement.GetProperty("database").GetProperty("reachable").GetBoolean());
        }
    }

    [Fact]
    public async Task Healthz_contains_nothing_secret()
    {
        using var factory = new FluxWebFactory();
        var body = await factory.CreateBrowserClient().GetStringAsync("/healthz");

        Assert.DoesNotContain(factory.DataDirectory, body, StringComparison.Ordinal);
        Assert.DoesNotContain("Data Source", body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("password", body, StringComparison.OrdinalIgnoreCase);
    }

    private static void WriteManifest(string modelsDirectory, string id, string json)
    {
        var folder = Path.Combine(modelsDirectory, id);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "manifest.json"), json);
    }
}
