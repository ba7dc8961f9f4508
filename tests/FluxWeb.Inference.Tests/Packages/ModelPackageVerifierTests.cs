using System.Text.Json.Nodes;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Vae;

namespace FluxWeb.Inference.Tests.Packages;

/// <summary>One demo package, built once; each test tampers with its own copy.</summary>
public sealed class DemoPackageFixture : IDisposable
{
    private readonly TempDirectory models = new();

    public DemoPackageFixture()
    {
        DemoPackage.Create(models.Path, "demo");
        Folder = Path.Combine(models.Path, "demo");
    }

    public string Folder { get; }

    /// <summary>A full copy (not links: tests edit files in place) under a models folder of its own.</summary>
    public string CopyTo(string root, string id = "demo")
    {
        var target = Path.Combine(root, "models", id);
        foreach (var file in Directory.EnumerateFiles(Folder, "*", SearchOption.AllDirectories))
        {
            var destination = Path.Combine(target, Path.GetRelativePath(Folder, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
        }

        return target;
    }

    public void Dispose() => models.Dispose();
}

public sealed class ModelPackageVerifierTests(DemoPackageFixture demo) : IClassFixture<DemoPackageFixture>
{
    private const string VaeWeights = "weights/vae/diffusion_pytorch_model.safetensors";

    private static JsonObject ReadManifest(string folder) => JsonNode.Parse(File.ReadAllText(Path.Combine(folder, ModelPackageManifest.FileName)))!.AsObject();

    private static void WriteManifest(string folder, JsonObject manifest) => File.WriteAllText(Path.Combine(folder, ModelPackageManifest.FileName), manifest.ToJsonString());

    private static PackageProblem Single(PackageVerification report, Func<PackageProblem, bool> match)
    {
        Assert.False(report.Ok);
        return Assert.Single(report.Problems, p => match(p));
    }

    [Fact]
    public void A_fresh_package_passes()
    {
        using var temp = new TempDirectory();
        var folder = demo.CopyTo(temp.Path);

        var report = ModelPackageVerifier.Verify(folder);

        Assert.True(report.Ok, string.Join("\n", report.Problems));
        Assert.Equal(8, report.FilesChecked);
        Assert.Equal(4, report.GraphsChecked);
        Assert.True(report.WeightBindingsChecked > 500, $"only {report.WeightBindingsChecked} bindings checked");
        Assert.Equal(new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).Where(f => f.Name != ModelPackageManifest.FileName).Sum(f => f.Length), report.BytesHashed);
    }

    [Fact]
    public void A_flipped_byte_in_a_weight_file_is_named()
    {
        using var temp = new TempDirectory();
        var folder = demo.CopyTo(temp.Path);
        var path = Path.Combine(folder, VaeWeights);
        var bytes = File.ReadAllBytes(path);
        bytes[^100] ^= 0x40;
        File.WriteAllBytes(path, bytes);

        var problem = Single(ModelPackageVerifier.Verify(folder), p => p.File == VaeWeights);

        Assert.EndsWith(".sha256", problem.Field, StringComparison.Ordinal);
        Assert.Contains("the file was changed", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_truncated_file_is_named_and_its_graph_reads_past_the_end()
    {
        using var temp = new TempDirectory();
        var folder = demo.CopyTo(temp.Path);
        var path = Path.Combine(folder, VaeWeights);
        using (var stream = new FileStream(path, FileMode.Open))
        {
            stream.SetLength(stream.Length / 2);
        }

        var report = ModelPackageVerifier.Verify(folder);

        Assert.False(report.Ok);
        Assert.Contains(report.Problems, p => p.File == VaeWeights && p.Field!.EndsWith(".bytes", StringComparison.Ordinal) && p.Message.Contains("truncated", StringComparison.Ordinal));
        Assert.Contains(report.Problems, p => p.File == VaeWeights && p.Message.Contains("truncated", StringComparison.Ordinal) && p.Field is null);
    }

    [Fact]
    public void An_edited_input_name_in_the_manifest_is_caught_by_the_graph()
    {
        using var temp = new TempDirectory();
        var folder = demo.CopyTo(temp.Path);
        var manifest = ReadManifest(folder);
        manifest["components"]!["transformer"]!["inputs"]!["timestep"] = "t";
        WriteManifest(folder, manifest);

        var problem = Single(ModelPackageVerifier.Verify(folder), p => p.Field == "components.transformer.inputs.timestep");

        Assert.Contains("names 't', which transformer.onnx does not have", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_edited_licence_is_caught_by_the_rules()
    {
        using var temp = new TempDirectory();
        var folder = demo.CopyTo(temp.Path);
        var manifest = ReadManifest(folder);
        manifest["licence"] = JsonNode.Parse("""{"id": "FLUX-Non-Commercial", "commercialUse": true}""");
        WriteManifest(folder, manifest);

        var problem = Single(ModelPackageVerifier.Verify(folder), p => p.Field == "licence.commercialUse");

        Assert.Contains("does not allow commercial use", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_edited_context_width_is_caught_by_both_graphs()
    {
        using var temp = new TempDirectory();
        var folder = demo.CopyTo(temp.Path);
        var manifest = ReadManifest(folder);
        manifest["textEncoder"]!["hiddenSize"] = 16;
        manifest["textEncoder"]!["contextDim"] = 48;
        WriteManifest(folder, manifest);

        var report = ModelPackageVerifier.Verify(folder);

        Assert.Equal(2, report.Problems.Count(p => p.Field == "textEncoder.contextDim"));
    }

    [Fact]
    public void A_swapped_checkpoint_is_caught_even_when_its_hash_line_was_rewritten()
    {
        using var temp = new TempDirectory();
        var folder = demo.CopyTo(temp.Path);
        var path = Path.Combine(folder, VaeWeights);
        // Same architecture, BFL names: different tensor order, so every offset the graphs hold is wrong.
        Flux2VaeRandomWeights.Write(path, Flux2VaeConfig.DemoTiny, seed: 99, Flux2VaeNaming.Bfl);
        var manifest = ReadManifest(folder);
        var entry = manifest["files"]!.AsArray().Single(f => (string)f!["path"]! == VaeWeights)!;
        entry["sha256"] = ModelPackageWriter.HashFile(path);
        entry["bytes"] = new FileInfo(path).Length;
        WriteManifest(folder, manifest);

        var report = ModelPackageVerifier.Verify(folder);

        Assert.False(report.Ok);
        Assert.All(report.Problems, p => Assert.Equal(VaeWeights, p.File));
        Assert.Contains(report.Problems, p => p.Message.Contains("replaced by a different checkpoint", StringComparison.Ordinal) || p.Message.Contains("reads '", StringComparison.Ordinal));
        Assert.DoesNotContain(report.Problems, p => p.Field?.StartsWith("files[", StringComparison.Ordinal) == true);
    }

    [Fact]
    public void A_file_nobody_listed_and_a_missing_one_are_reported()
    {
        using var temp = new TempDirectory();
        var folder = demo.CopyTo(temp.Path);
        File.WriteAllText(Path.Combine(folder, "extra.onnx"), "not ours");
        File.Delete(Path.Combine(folder, "tokenizer.json"));

        var report = ModelPackageVerifier.Verify(folder);

        Assert.Contains(report.Problems, p => p.File == "extra.onnx" && p.Message.Contains("not in the manifest", StringComparison.Ordinal));
        Assert.Contains(report.Problems, p => p.File == "tokenizer.json" && p.Message.Contains("missing", StringComparison.Ordinal));
    }

    [Fact]
    public void Graph_signatures_read_without_loading_agree_with_onnx_runtime()
    {
        foreach (var file in new[] { "text_encoder.onnx", "transformer.onnx", "vae_encoder.onnx", "vae_decoder.onnx" })
        {
            var signature = OnnxGraphSignature.Read(Path.Combine(demo.Folder, file));
            using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Path.Combine(demo.Folder, file));

            Assert.Equal(session.InputMetadata.Keys.Order(), signature.Inputs.Select(i => i.Name).Order());
            Assert.Equal(session.OutputMetadata.Keys.Order(), signature.Outputs.Select(o => o.Name).Order());
            foreach (var input in signature.Inputs)
            {
                Assert.Equal(session.InputMetadata[input.Name].Dimensions.Length, input.Rank);
            }

            Assert.NotEmpty(signature.ExternalTensors);
            Assert.All(signature.ExternalTensors, t => Assert.StartsWith("weights/", t.Location, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void A_truncated_graph_is_reported_not_thrown()
    {
        using var temp = new TempDirectory();
        var folder = demo.CopyTo(temp.Path);
        var path = Path.Combine(folder, "transformer.onnx");
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..1000]);

        var report = ModelPackageVerifier.Verify(folder);

        Assert.Contains(report.Problems, p => p.File == "transformer.onnx" && p.Field == "components.transformer.file" && p.Message.Contains("not a readable ONNX model", StringComparison.Ordinal));
    }
}
