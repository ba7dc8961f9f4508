using System.Text.Json.Nodes;
using FluxWeb.Inference.Packages;
using Google.Protobuf;
using Onnx;

namespace FluxWeb.Inference.Tests.Packages;

public sealed class ModelPackageImporterTests(DemoPackageFixture demo) : IClassFixture<DemoPackageFixture>
{
    private static readonly Dictionary<string, string> Renamed = new()
    {
        ["hidden_states"] = "latent_tokens",
        ["encoder_hidden_states"] = "prompt",
        ["timestep"] = "sigma",
        ["img_ids"] = "image_positions",
        ["txt_ids"] = "text_positions",
        ["output"] = "velocity",
    };

    /// <summary>
    /// A third-party style export: the demo's graphs and weights, the transformer's inputs and output
    /// renamed, and a manifest whose role mapping names them. Returns the export folder.
    /// </summary>
    private string WriteExport(TempDirectory temp, Action<JsonObject>? editManifest = null)
    {
        var export = demo.CopyTo(temp.Path, "export");
        var graphPath = Path.Combine(export, "transformer.onnx");
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(graphPath));
        foreach (var value in model.Graph.Input.Concat(model.Graph.Output))
        {
            value.Name = Renamed.GetValueOrDefault(value.Name, value.Name);
        }

        foreach (var node in model.Graph.Node)
        {
            for (var i = 0; i < node.Input.Count; i++)
            {
                node.Input[i] = Renamed.GetValueOrDefault(node.Input[i], node.Input[i]);
            }

            for (var i = 0; i < node.Output.Count; i++)
            {
                node.Output[i] = Renamed.GetValueOrDefault(node.Output[i], node.Output[i]);
            }
        }

        File.WriteAllBytes(graphPath, model.ToByteArray());
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(export, ModelPackageManifest.FileName)))!.AsObject();
        manifest["id"] = "community-export";
        manifest["build"] = null;
        var transformer = manifest["components"]!["transformer"]!;
        transformer["inputs"] = new JsonObject
        {
            ["hiddenStates"] = "latent_tokens",
            ["encoderHiddenStates"] = "prompt",
            ["timestep"] = "sigma",
            ["imageIds"] = "image_positions",
            ["textIds"] = "text_positions",
        };
        transformer["outputs"] = new JsonObject { ["output"] = "velocity" };
        editManifest?.Invoke(manifest);
        File.WriteAllText(Path.Combine(export, ModelPackageManifest.FileName), manifest.ToJsonString());
        return export;
    }

    [Fact]
    public void An_export_with_its_own_input_names_imports_through_the_manifest_mapping_and_runs()
    {
        using var temp = new TempDirectory();
        var export = WriteExport(temp);
        File.WriteAllText(Path.Combine(export, ".gitattributes"), "*.safetensors filter=lfs");
        var models = temp.Combine("installed");

        var result = ModelPackageImporter.Import(models, export);

        Assert.Equal("community-export", result.Manifest.Id);
        Assert.StartsWith("FluxWeb", result.Manifest.Build!.Tool, StringComparison.Ordinal);
        Assert.All(result.Placed, p => Assert.Equal(FileLinks.Method.HardLink, p.Method));
        Assert.DoesNotContain(result.Manifest.Files, f => f.Path.StartsWith('.'));
        var folder = Path.Combine(models, "community-export");
        Assert.Equal("sigma", ModelPackageManifest.Read(Path.Combine(folder, ModelPackageManifest.FileName)).Components.Transformer!.Inputs["timestep"]);
        var outputs = PackageRunner.RunAll(folder);
        Assert.Equal(4 * 128, outputs.Velocity.Length);
        var verification = ModelPackageVerifier.Verify(folder);
        Assert.True(verification.Ok, string.Join("\n", verification.Problems));
    }

    [Fact]
    public void A_mapping_that_names_a_missing_input_is_refused_with_the_field()
    {
        using var temp = new TempDirectory();
        var export = WriteExport(temp, m => m["components"]!["transformer"]!["inputs"]!["imageIds"] = "img_ids");
        var models = temp.Combine("installed");

        var error = Assert.Throws<ModelPackageException>(() => ModelPackageImporter.Import(models, export));

        Assert.Equal("components.transformer.inputs.imageIds", error.Field);
        Assert.Equal("export/manifest.json", error.File);
        Assert.Contains("names 'img_ids', which transformer.onnx does not have (its inputs: latent_tokens, prompt, sigma, image_positions, text_positions)", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(models, "community-export")));
    }

    [Fact]
    public void A_mapping_to_an_input_of_the_wrong_rank_is_refused()
    {
        using var temp = new TempDirectory();
        var export = WriteExport(temp, m => m["components"]!["transformer"]!["inputs"]!["timestep"] = "image_positions");

        var error = Assert.Throws<ModelPackageException>(() => ModelPackageImporter.Import(temp.Combine("installed"), export));

        Assert.Equal("components.transformer.inputs.timestep", error.Field);
        Assert.Contains("has rank 2 [image_tokens,4] in transformer.onnx; this role needs rank 1 [batch]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_export_without_a_licence_is_refused()
    {
        using var temp = new TempDirectory();
        var export = WriteExport(temp, m => m.Remove("licence"));

        var error = Assert.Throws<ModelPackageException>(() => ModelPackageImporter.Import(temp.Combine("installed"), export));

        Assert.Equal("licence.id", error.Field);
        Assert.Contains("must declare its licence", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp.Combine("installed", "community-export")));
    }

    [Fact]
    public void Weights_outside_the_export_are_refused()
    {
        using var temp = new TempDirectory();
        var export = WriteExport(temp);
        var graphPath = Path.Combine(export, "vae_decoder.onnx");
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(graphPath));
        var location = model.Graph.Initializer.First(t => t.DataLocation == TensorProto.Types.DataLocation.External).ExternalData.First(e => e.Key == "location");
        location.Value = "../elsewhere/vae.safetensors";
        File.WriteAllBytes(graphPath, model.ToByteArray());

        var error = Assert.Throws<ModelPackageException>(() => ModelPackageImporter.Import(temp.Combine("installed"), export));

        Assert.Equal("components.vaeDecoder.file", error.Field);
        Assert.Contains("outside the package folder", error.Message, StringComparison.Ordinal);
    }
}
