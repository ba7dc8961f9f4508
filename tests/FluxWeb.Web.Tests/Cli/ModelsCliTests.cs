using System.Text.Json;
using FluxWeb.Host.Cli;
using FluxWeb.Inference.Packages;
using FluxWeb.Testing;

namespace FluxWeb.Web.Tests.Cli;

public sealed class ModelsCliTests
{
    private static async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await FluxWebCli.RunAsync(args, new CliOutput(stdout, stderr));
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Create_demo_with_both_licences_shows_up_in_list_and_json()
    {
        using var folder = new TempFolder();
        var models = folder.Combine("models");
        var data = folder.Combine("data");

        var (code, stdout, stderr) = await RunAsync("models", "create-demo", "--models", models, "--data", data);
        var (ncCode, _, ncError) = await RunAsync("models", "create-demo", "--id", "demo-nc", "--licence", "FLUX-Non-Commercial", "--seed", "7", "--models", models, "--data", data);

        Assert.True(code == 0, stderr);
        Assert.True(ncCode == 0, ncError);
        Assert.Contains("Created model package 'demo': FLUX.2 [klein] demo (demo — random weights), licence Apache-2.0 (commercial use allowed)", stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(data, "fluxweb.db")), "model commands do not create a database");

        var (_, table, _) = await RunAsync("models", "list", "--models", models);
        var lines = table.Trim().Split('\n');
        Assert.StartsWith("ID ", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("demo ", StringComparison.Ordinal) && l.Contains("(demo — random weights)", StringComparison.Ordinal) && l.Contains("Apache-2.0 (commercial)", StringComparison.Ordinal) && l.TrimEnd().EndsWith("ok", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("demo-nc ", StringComparison.Ordinal) && l.Contains("FLUX-Non-Commercial (non-commercial)", StringComparison.Ordinal));

        var (jsonCode, json, _) = await RunAsync("models", "list", "--json", "--models", models);
        Assert.Equal(0, jsonCode);
        Assert.Single(json.Trim().Split('\n'));
        var packages = JsonDocument.Parse(json).RootElement.EnumerateArray().ToDictionary(p => p.GetProperty("id").GetString()!);
        Assert.Equal(["demo", "demo-nc"], packages.Keys.Order());
        Assert.True(packages["demo"].GetProperty("commercialUse").GetBoolean());
        Assert.False(packages["demo-nc"].GetProperty("commercialUse").GetBoolean());
        Assert.True(packages["demo-nc"].GetProperty("demo").GetBoolean());
        Assert.Equal("FLUX.2 [klein] demo (non-commercial) (demo — random weights)", packages["demo-nc"].GetProperty("label").GetString());
    }

    [Fact]
    public async Task Create_demo_twice_fails_with_one_clear_line()
    {
        using var folder = new TempFolder();
        var models = folder.Combine("models");
        await RunAsync("models", "create-demo", "--models", models);

        var (code, _, stderr) = await RunAsync("models", "create-demo", "--models", models);

        Assert.NotEqual(0, code);
        Assert.Equal($"error: A model package 'demo' already exists in {models}: remove it first or choose another --id.", stderr.Trim());
    }

    [Fact]
    public async Task List_names_a_broken_package_and_why()
    {
        using var folder = new TempFolder();
        var models = folder.Combine("models");
        TestModelPackages.WriteCatalogOnly(models, "nolicence", ModelLicence.Apache2());
        var manifestPath = Path.Combine(models, "nolicence", ModelPackageManifest.FileName);
        File.WriteAllText(manifestPath, File.ReadAllText(manifestPath).Replace("\"licence\"", "\"licenceRemoved\"", StringComparison.Ordinal));

        var (code, stdout, _) = await RunAsync("models", "list", "--models", models);

        Assert.Equal(0, code);
        Assert.Contains("error: nolicence/manifest.json: 'licence.id' is missing", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_passes_a_fresh_package_and_names_a_tampered_file()
    {
        using var folder = new TempFolder();
        var models = folder.Combine("models");
        await RunAsync("models", "create-demo", "--models", models);

        var (okCode, okOut, _) = await RunAsync("models", "verify", "demo", "--models", models);
        Assert.Equal(0, okCode);
        Assert.StartsWith("ok: 'demo': 8 files", okOut.Trim(), StringComparison.Ordinal);

        var weights = Path.Combine(models, "demo", "weights", "transformer", "diffusion_pytorch_model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        bytes[^8] ^= 0xff;
        File.WriteAllBytes(weights, bytes);

        var (code, stdout, stderr) = await RunAsync("models", "verify", "demo", "--models", models);
        Assert.Equal(1, code);
        Assert.Contains("FAIL weights/transformer/diffusion_pytorch_model.safetensors: 'files[", stdout, StringComparison.Ordinal);
        Assert.EndsWith("error: model package 'demo' failed verification: 1 problem.", stderr.Trim(), StringComparison.Ordinal);

        var (_, json, _) = await RunAsync("models", "verify", "demo", "--json", "--models", models);
        var report = JsonDocument.Parse(json.Trim()).RootElement;
        Assert.False(report.GetProperty("ok").GetBoolean());
        Assert.Equal("weights/transformer/diffusion_pytorch_model.safetensors", report.GetProperty("problems")[0].GetProperty("file").GetString());

        var (missingCode, _, missingError) = await RunAsync("models", "verify", "nothere", "--models", models);
        Assert.NotEqual(0, missingCode);
        Assert.StartsWith("error: no model package 'nothere'", missingError.Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Build_from_a_diffusers_folder_prints_what_it_chose_and_one_json_line()
    {
        using var folder = new TempFolder();
        var source = folder.Combine("FLUX.2-klein-tiny");
        TinyCheckpoint.WriteDiffusers(source);
        var models = folder.Combine("models");

        var (refusedCode, _, refused) = await RunAsync("models", "build", "--from", source, "--models", models);
        Assert.NotEqual(0, refusedCode);
        Assert.Equal("error: This checkpoint is not an official klein 4B/9B size, so FluxWeb cannot know its licence: pass --licence Apache-2.0 or --licence FLUX-Non-Commercial.", refused.Trim());

        var (code, stdout, stderr) = await RunAsync("models", "build", "--from", source, "--licence", "FLUX-Non-Commercial", "--precision", "fp32", "--id", "tiny", "--json", "--models", models);

        Assert.True(code == 0, stderr);
        Assert.Contains("variant: distilled (model_index.json is_distilled: true)", stderr, StringComparison.Ordinal);
        Assert.Contains("linked weights/transformer/diffusion_pytorch_model.safetensors", stderr, StringComparison.Ordinal);
        var result = JsonDocument.Parse(stdout.Trim()).RootElement;
        Assert.Equal("tiny", result.GetProperty("id").GetString());
        Assert.Equal("FLUX-Non-Commercial", result.GetProperty("licence").GetString());
        Assert.Equal("fp32", result.GetProperty("compute").GetString());
        Assert.Equal(0, result.GetProperty("copiedBytes").GetInt64());

        var (verifyCode, _, _) = await RunAsync("models", "verify", "tiny", "--models", models);
        Assert.Equal(0, verifyCode);
    }

    [Fact]
    public async Task Import_installs_an_export_under_a_new_id()
    {
        using var folder = new TempFolder();
        await RunAsync("models", "create-demo", "--models", folder.Combine("elsewhere"));
        var models = folder.Combine("models");

        var (code, stdout, stderr) = await RunAsync("models", "import", folder.Combine("elsewhere", "demo"), "--id", "imported", "--models", models);

        Assert.True(code == 0, stderr);
        Assert.StartsWith("Imported model package 'imported'", stdout, StringComparison.Ordinal);
        Assert.Equal(0, (await RunAsync("models", "verify", "imported", "--models", models)).ExitCode);

        var (missingCode, _, missingError) = await RunAsync("models", "import", folder.Combine("nothing"), "--models", models);
        Assert.NotEqual(0, missingCode);
        Assert.Equal($"error: {folder.Combine("nothing")}: no such folder.", missingError.Trim());
    }

    [Theory]
    [InlineData("models", "--help")]
    [InlineData("models", "create-demo", "--help")]
    [InlineData("models", "build", "--help")]
    [InlineData("models", "import", "--help")]
    [InlineData("models", "list", "--help")]
    [InlineData("models", "verify", "--help")]
    [InlineData("models", "pull", "--help")]
    public async Task Help_is_available_for_every_models_command(params string[] args)
    {
        var (code, stdout, _) = await RunAsync(args);

        Assert.Equal(0, code);
        Assert.Contains("Usage:", stdout, StringComparison.Ordinal);
        Assert.Contains("--models", stdout, StringComparison.Ordinal);
        Assert.Contains("--data", stdout, StringComparison.Ordinal);
    }
}
