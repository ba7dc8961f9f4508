using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FluxWeb.Host.Cli;
using FluxWeb.Inference.Packages;
using FluxWeb.Testing;

namespace FluxWeb.Web.Tests.Models;

/// <summary>
/// A bf16 package on a server that runs on the CPU (this machine): every door says it cannot run
/// here and why, instead of accepting jobs that then fail with "could not be loaded".
/// </summary>
public sealed class UnusableOnDeviceTests
{
    private const string Reason = "the package computes in bf16, and ONNX Runtime's CPU provider has no bf16 FusedMatMul kernel";

    [Fact]
    public async Task Healthz_lists_a_bf16_package_as_unusable_with_the_reason()
    {
        using var factory = new FluxWebFactory();
        TestModelPackages.WriteCatalogOnly(factory.ModelsDirectory, "klein-4b", ModelLicence.Apache2(), compute: "bf16");
        TestModelPackages.WriteCatalogOnly(factory.ModelsDirectory, "cpu-ok", ModelLicence.Apache2());

        // The device and the packages are an administrator's details of /healthz; the first account registered is one.
        var admin = new SiteClient(factory.CreateBrowserClient());
        await admin.RegisterAsync("admin@example.com");

        using var json = JsonDocument.Parse(await admin.Http.GetStringAsync("/healthz"));

        var device = json.RootElement.GetProperty("device");
        Assert.Contains("FusedMatMul", device.GetProperty("unsupportedPrecisions").GetProperty("bf16").GetString(), StringComparison.Ordinal);
        var models = json.RootElement.GetProperty("models").EnumerateArray().ToDictionary(m => m.GetProperty("id").GetString()!);
        Assert.False(models["klein-4b"].GetProperty("usable").GetBoolean());
        Assert.Contains(Reason, models["klein-4b"].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("Unusable on this server: inference runs on the CPU (CPU selected in configuration", models["klein-4b"].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.True(models["cpu-ok"].GetProperty("usable").GetBoolean());
    }

    [Fact]
    public async Task The_picker_shows_it_disabled_with_the_reason_and_submission_refuses_it_with_the_same_words()
    {
        using var factory = new FluxWebFactory();
        TestModelPackages.WriteCatalogOnly(factory.ModelsDirectory, "klein-4b", ModelLicence.Apache2(), compute: "bf16");
        var user = new SiteClient(factory.CreateBrowserClient());
        await user.RegisterAsync("ada@example.com");

        var models = (await user.Http.GetFromJsonAsync<JsonElement>("/api/v1/models")).EnumerateArray().ToDictionary(m => m.GetProperty("id").GetString()!);
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/generations")
        {
            Content = JsonContent.Create(new { model = "klein-4b", prompt = "a lighthouse" }),
        };
        request.Headers.Add("X-FluxWeb-Request", "1");
        var submitted = await user.Http.SendAsync(request);

        Assert.False(models["klein-4b"].GetProperty("allowed").GetBoolean());
        Assert.Contains(Reason, models["klein-4b"].GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, submitted.StatusCode);
        Assert.Contains(Reason, (await submitted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Models_list_on_the_command_line_keeps_the_details_and_says_why_it_cannot_run()
    {
        using var folder = new TempFolder();
        var models = folder.Combine("models");
        TestModelPackages.WriteCatalogOnly(models, "klein-4b", ModelLicence.Apache2(), compute: "bf16");
        var stdout = new StringWriter();
        var stderr = new StringWriter();

        var code = await FluxWebCli.RunAsync(["models", "list", "--models", models, "--data", folder.Combine("data")], new CliOutput(stdout, stderr));
        var json = new StringWriter();
        await FluxWebCli.RunAsync(["models", "list", "--json", "--models", models, "--data", folder.Combine("data")], new CliOutput(json, new StringWriter()));

        Assert.True(code == 0, stderr.ToString());
        var line = stdout.ToString().Split('\n').Single(l => l.StartsWith("klein-4b ", StringComparison.Ordinal));
        Assert.Contains("Apache-2.0 (commercial)", line, StringComparison.Ordinal);
        Assert.Contains("bf16/bf16", line, StringComparison.Ordinal);
        Assert.Contains(Reason, line, StringComparison.Ordinal);
        var package = JsonDocument.Parse(json.ToString()).RootElement.EnumerateArray().Single();
        Assert.False(package.GetProperty("usable").GetBoolean());
        Assert.Contains(Reason, package.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("Apache-2.0", package.GetProperty("licence").GetString());
    }
}
