using System.Text.Json;
using FluxWeb.Host.Cli;
using FluxWeb.Inference.Packages;
using FluxWeb.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Web.Tests.Cli;

public sealed class DemoModelsFixture : IDisposable
{
    public TempFolder Folder { get; } = new("fluxweb-cli-models");

    public DemoModelsFixture() => DemoPackage.Create(Folder.Path, "demo");

    public void Dispose() => Folder.Dispose();
}

public sealed class GenerateCliTests(DemoModelsFixture models) : IClassFixture<DemoModelsFixture>
{
    private static async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await FluxWebCli.RunAsync(args, new CliOutput(stdout, stderr));
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Generate_writes_a_png_and_prints_one_json_line()
    {
        using var output = new TempFolder();
        var file = output.Combine("out.png");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (code, stdout, stderr) = await RunAsync("generate", "--models", models.Folder.Path, "--model", "demo", "--prompt", "a cat", "--width", "288", "--height", "256", "--seed", "7", "--out", file);
        var wallMilliseconds = clock.ElapsedMilliseconds;

        Assert.True(code == 0, stderr);
        var line = Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var json = JsonDocument.Parse(line);
        Assert.Equal(file, json.RootElement.GetProperty("file").GetString());
        Assert.Equal("demo", json.RootElement.GetProperty("model").GetString());
        Assert.Equal(7UL, json.RootElement.GetProperty("seed").GetUInt64());
        Assert.Equal(288, json.RootElement.GetProperty("width").GetInt32());
        Assert.Equal(256, json.RootElement.GetProperty("height").GetInt32());
        // The generation's own time: measured (a real run of the demo model takes milliseconds at least), and within the command's.
        Assert.InRange(json.RootElement.GetProperty("elapsed_ms").GetInt64(), 1, wallMilliseconds);
        Assert.Equal([0x89, 0x50, 0x4E, 0x47], File.ReadAllBytes(file)[..4]);
        using var image = Image.Load<Rgb24>(file);
        Assert.Equal((288, 256), (image.Width, image.Height));
    }

    [Fact]
    public async Task The_same_seed_gives_the_same_image_and_a_masked_edit_runs_from_files()
    {
        using var output = new TempFolder();
        string[] Args(string name, params string[] extra) => ["generate", "--models", models.Folder.Path, "--model", "demo", "--prompt", "a boat", "--seed", "11", "--out", output.Combine(name), .. extra];
        await RunAsync(Args("a.png", "--width", "256", "--height", "256"));
        await RunAsync(Args("b.png", "--width", "256", "--height", "256"));
        // The same pixels; the files differ only in their signed manifests (each has its own instance id).
        Assert.Equal(Pixels(output.Combine("a.png")), Pixels(output.Combine("b.png")));

        using (var mask = new Image<L8>(256, 256))
        {
            mask[64, 64] = new L8(255);
            await mask.SaveAsPngAsync(output.Combine("mask.png"));
        }

        var (code, _, stderr) = await RunAsync(Args("edit.png", "--image", output.Combine("a.png"), "--mask", output.Combine("mask.png"), "--strength", "0.8", "--ref", output.Combine("b.png")));

        Assert.True(code == 0, stderr);
        Assert.True(File.Exists(output.Combine("edit.png")));
    }

    private static byte[] Pixels(string path)
    {
        using var image = Image.Load<Rgb24>(path);
        var bytes = new byte[image.Width * image.Height * 3];
        image.CopyPixelDataTo(bytes);
        return bytes;
    }

    [Theory]
    [InlineData("error: Model 'nope' is not installed.", "--model", "nope")]
    [InlineData("error: FLUX.2 [klein] demo (demo — random weights) runs exactly 4 steps (distilled); 9 were asked.", "--steps", "9")]
    [InlineData("error: Width must be between 256 and 2048 pixels; 5000 was asked.", "--width", "5000")]
    [InlineData("error: FLUX.2 [klein] demo (demo — random weights) is guidance-distilled and takes no negative prompt; leave it empty, or choose a base model.", "--negative-prompt", "blurry")]
    [InlineData("error: Image file 'missing.png' does not exist.", "--ref", "missing.png")]
    public async Task Bad_requests_fail_with_one_clear_line(string expected, params string[] change)
    {
        using var output = new TempFolder();
        var args = new List<string> { "generate", "--models", models.Folder.Path, "--model", "demo", "--prompt", "x", "--out", output.Combine("x.png") };
        var at = args.IndexOf(change[0]);
        if (at >= 0)
        {
            args[at + 1] = change[1];
        }
        else
        {
            args.AddRange(change);
        }

        var (code, stdout, stderr) = await RunAsync([.. args]);

        Assert.NotEqual(0, code);
        Assert.Equal(expected, stderr.Trim());
        Assert.Empty(stdout);
        Assert.False(File.Exists(output.Combine("x.png")));
    }

    [Fact]
    public async Task An_unreadable_reference_image_gets_a_clear_error()
    {
        using var output = new TempFolder();
        var garbage = output.Combine("broken.png");
        await File.WriteAllBytesAsync(garbage, [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3]);

        var (code, _, stderr) = await RunAsync("generate", "--models", models.Folder.Path, "--model", "demo", "--prompt", "x", "--ref", garbage, "--out", output.Combine("x.png"));

        Assert.NotEqual(0, code);
        Assert.StartsWith("error: ", stderr, StringComparison.Ordinal);
        Assert.Contains("PNG", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public async Task Inspect_schedule_prints_mu_and_sigmas()
    {
        var (code, stdout, _) = await RunAsync("inspect", "schedule", "--width", "1024", "--height", "1024", "--steps", "4");

        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal(2.2912, json.RootElement.GetProperty("mu").GetDouble(), 3);
        var sigmas = json.RootElement.GetProperty("sigmas").EnumerateArray().Select(s => s.GetDouble()).ToArray();
        Assert.Equal(5, sigmas.Length);
        Assert.Equal(0.96738, sigmas[1], 4);
        Assert.Equal(0, sigmas[4]);
    }

    [Fact]
    public async Task Inspect_tokens_prints_the_golden_ids()
    {
        var (code, stdout, _) = await RunAsync("inspect", "tokens", "--prompt", "a photo of a cat");

        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(stdout);
        var ids = json.RootElement.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        var mask = json.RootElement.GetProperty("attention_mask").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        Assert.Equal(512, ids.Length);
        Assert.Equal([151644L, 872, 198, 64, 6548, 315, 264, 8251, 151645, 198, 151644, 77091, 198, 151667, 271, 151668, 271, 151643], ids[..18]);
        Assert.Equal(17, mask.Sum());
    }
}

public sealed class VerifyCliTests(DemoModelsFixture models) : IClassFixture<DemoModelsFixture>
{
    [Fact]
    public async Task Generated_files_carry_a_watermark_and_valid_credentials_that_verify_reports()
    {
        using var work = new TempFolder();
        var data = work.Combine("data");
        var file = work.Combine("out.png");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await FluxWebCli.RunAsync(["generate", "--data", data, "--models", models.Folder.Path, "--model", "demo", "--prompt", "a cat", "--width", "256", "--height", "256", "--seed", "1", "--out", file], new CliOutput(stdout, stderr));
        Assert.True(code == 0, stderr.ToString());

        var verifyOut = new StringWriter();
        var verifyErr = new StringWriter();
        code = await FluxWebCli.RunAsync(["verify", "--data", data, file], new CliOutput(verifyOut, verifyErr));

        Assert.True(code == 0, verifyErr.ToString());
        using var json = JsonDocument.Parse(verifyOut.ToString());
        var watermark = json.RootElement.GetProperty("watermark");
        Assert.True(watermark.GetProperty("present").GetBoolean());
        Assert.Matches("^[01]{64}$", watermark.GetProperty("bits").GetString()!);
        Assert.True(watermark.GetProperty("thisInstallation").GetBoolean());
        var c2pa = json.RootElement.GetProperty("c2pa");
        Assert.Equal("Trusted", c2pa.GetProperty("state").GetString());
        Assert.Equal("demo", c2pa.GetProperty("model").GetString());
        Assert.Equal("Apache-2.0", c2pa.GetProperty("licence").GetString());

        var bytes = await File.ReadAllBytesAsync(file);
        bytes[bytes.Length / 2] ^= 0x40;
        await File.WriteAllBytesAsync(file, bytes);
        var tamperedOut = new StringWriter();
        await FluxWebCli.RunAsync(["verify", "--data", data, file], new CliOutput(tamperedOut, new StringWriter()));
        using var tampered = JsonDocument.Parse(tamperedOut.ToString());
        Assert.Equal("Invalid", tampered.RootElement.GetProperty("c2pa").GetProperty("state").GetString());
    }

    [Fact]
    public async Task An_unmarked_image_is_reported_as_unmarked()
    {
        using var work = new TempFolder();
        var file = work.Combine("plain.png");
        using (var plain = new Image<Rgb24>(300, 300))
        {
            await plain.SaveAsPngAsync(file);
        }

        var stdout = new StringWriter();
        var code = await FluxWebCli.RunAsync(["verify", "--data", work.Combine("data"), file], new CliOutput(stdout, new StringWriter()));

        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(stdout.ToString());
        Assert.False(json.RootElement.GetProperty("watermark").GetProperty("present").GetBoolean());
        Assert.Equal("Absent", json.RootElement.GetProperty("c2pa").GetProperty("state").GetString());
    }
}
