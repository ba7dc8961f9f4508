using System.Text.Json.Nodes;
using FluxWeb.Inference.Packages;
using Microsoft.Extensions.Options;

namespace FluxWeb.Inference.Tests.Packages;

public sealed class ModelPackageManifestTests
{
    private static string WriteValidPackage(TempDirectory models, string id = "pkg", ModelLicence? licence = null, string family = "test-tiny")
    {
        var folder = Path.Combine(models.Path, id);
        Directory.CreateDirectory(folder);
        foreach (var file in new[] { ManifestTemplates.TokenizerFile, ManifestTemplates.TextEncoderFile, ManifestTemplates.TransformerFile, ManifestTemplates.VaeEncoderFile, ManifestTemplates.VaeDecoderFile })
        {
            File.WriteAllText(Path.Combine(folder, file), "placeholder " + file);
        }

        ModelPackageWriter.Seal(folder, new ModelPackageManifest
        {
            SchemaVersion = 1,
            Id = id,
            DisplayName = "Package",
            Family = family,
            Variant = ModelVariant.Distilled,
            Licence = licence ?? ModelLicence.Apache2(),
            Precision = new PrecisionInfo { Weights = "bf16", Compute = "fp32" },
            Sampling = ManifestTemplates.SamplingFor(ModelVariant.Distilled),
            TextEncoder = new TextEncoderInfo { Id = "qwen3-4b", HiddenSize = 2560, ContextDim = 7680 },
            Tokenizer = new TokenizerInfo { File = ManifestTemplates.TokenizerFile },
            Components = ManifestTemplates.StandardComponents(),
            Transformer = new TransformerInfo { Hidden = 3072, Heads = 24, DoubleBlocks = 5, SingleBlocks = 20 },
        });
        return folder;
    }

    private static ModelPackageException Edit(TempDirectory models, Action<JsonObject> edit)
    {
        var folder = WriteValidPackage(models);
        var path = Path.Combine(folder, ModelPackageManifest.FileName);
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(json);
        File.WriteAllText(path, json.ToJsonString());
        return Assert.Throws<ModelPackageException>(() => ModelPackageManifest.Read(path, "pkg/manifest.json"));
    }

    [Fact]
    public void A_sealed_package_reads_back_with_every_file_hashed()
    {
        using var models = new TempDirectory();
        var folder = WriteValidPackage(models);

        var manifest = ModelPackageManifest.Read(Path.Combine(folder, ModelPackageManifest.FileName));

        Assert.Equal("pkg", manifest.Id);
        Assert.True(manifest.AllowsCommercialUse);
        Assert.Equal(5, manifest.Files.Count);
        Assert.All(manifest.Files, f => Assert.Matches("^[0-9a-f]{64}$", f.Sha256));
        Assert.Equal("img_ids", manifest.Components.Transformer!.Inputs["imageIds"]);
        Assert.Contains("\"variant\": \"distilled\"", File.ReadAllText(Path.Combine(folder, ModelPackageManifest.FileName)), StringComparison.Ordinal);
    }

    [Fact]
    public void No_licence_means_no_load()
    {
        using var models = new TempDirectory();

        var error = Edit(models, json => json.Remove("licence"));

        Assert.Equal("licence.id", error.Field);
        Assert.StartsWith("pkg/manifest.json: 'licence.id' is missing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Commercial_use_must_be_stated()
    {
        using var models = new TempDirectory();

        var error = Edit(models, json => json["licence"]!.AsObject().Remove("commercialUse"));

        Assert.Equal("licence.commercialUse", error.Field);
    }

    [Fact]
    public void A_non_commercial_licence_cannot_claim_commercial_use()
    {
        using var models = new TempDirectory();

        var error = Edit(models, json => json["licence"] = new JsonObject { ["id"] = "FLUX-Non-Commercial", ["commercialUse"] = true });

        Assert.Equal("licence.commercialUse", error.Field);
    }

    [Fact]
    public void A_9b_package_cannot_be_relabelled_apache()
    {
        using var models = new TempDirectory();

        var error = Edit(models, json => json["family"] = "klein-9b");

        Assert.Equal("licence.id", error.Field);
        Assert.Contains("FLUX-Non-Commercial", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("schemaVersion", "schemaVersion")]
    [InlineData("family", "family")]
    [InlineData("steps", "sampling")]
    [InlineData("guidance", "sampling.defaultGuidance")]
    [InlineData("component", "components.transformer.file")]
    [InlineData("traversal", "components.vaeDecoder.file")]
    [InlineData("role", "components.transformer.inputs.imageIds")]
    [InlineData("size", "files[0].bytes")]
    [InlineData("id", "id")]
    public void Invalid_fields_are_named(string problem, string field)
    {
        using var models = new TempDirectory();

        var error = Edit(models, json =>
        {
            switch (problem)
            {
                case "schemaVersion": json["schemaVersion"] = 7; break;
                case "family": json["family"] = "sdxl"; break;
                case "steps": json["sampling"]!["defaultSteps"] = 9; break;
                case "guidance": json["sampling"]!["defaultGuidance"] = 3.5; break;
                case "component": json["components"]!["transformer"]!["file"] = "missing.onnx"; break;
                case "traversal": json["components"]!["vaeDecoder"]!["file"] = "../other/vae.onnx"; break;
                case "role": json["components"]!["transformer"]!["inputs"]!.AsObject().Remove("imageIds"); break;
                case "size": json["files"]![0]!["bytes"] = 1; break;
                case "id": json["id"] = "Not Valid!"; break;
            }
        });

        Assert.Equal(field, error.Field);
        Assert.StartsWith("pkg/manifest.json:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_json_points_at_the_place()
    {
        using var models = new TempDirectory();
        var folder = WriteValidPackage(models);
        File.WriteAllText(Path.Combine(folder, ModelPackageManifest.FileName), """{"schemaVersion": "one"}""");

        var error = Assert.Throws<ModelPackageException>(() => ModelPackageManifest.Read(Path.Combine(folder, ModelPackageManifest.FileName)));

        Assert.Equal("$.schemaVersion", error.Field);
    }

    [Fact]
    public void Catalog_lists_good_packages_and_explains_bad_ones_without_server_paths()
    {
        using var models = new TempDirectory();
        WriteValidPackage(models, "good");
        var bad = WriteValidPackage(models, "bad");
        File.Delete(Path.Combine(bad, ManifestTemplates.TransformerFile));
        Directory.CreateDirectory(Path.Combine(models.Path, "not-a-package"));

        var listed = new ModelCatalog(Options.Create(new ModelStoreOptions { ModelsDirectory = models.Path })).List();

        Assert.Equal(["bad", "good"], listed.Select(m => m.Id));
        Assert.True(listed.Single(m => m.Id == "good").IsUsable);
        var error = listed.Single(m => m.Id == "bad").Error!;
        Assert.Contains("bad/manifest.json: 'components.transformer.file'", error, StringComparison.Ordinal);
        Assert.DoesNotContain(models.Path, error, StringComparison.Ordinal);
    }
}
