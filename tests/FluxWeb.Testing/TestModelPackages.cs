using FluxWeb.Inference.Packages;

namespace FluxWeb.Testing;

/// <summary>
/// Model packages for tests that only need the catalog and the licence side (no inference):
/// valid manifests over placeholder files. Tests that generate use the real demo package.
/// </summary>
public static class TestModelPackages
{
    /// <param name="compute">The compute precision the manifest declares ("bf16" is one the CPU cannot run, so the package is listed as unusable there).</param>
    /// <param name="demo">Marks it as a demo package ("demo — random weights"), as <c>models create-demo</c> does.</param>
    public static string WriteCatalogOnly(string modelsDirectory, string id, ModelLicence licence, string family = "test-tiny", ModelVariant variant = ModelVariant.Distilled, string compute = "fp32", bool demo = false, string? displayName = null)
    {
        var folder = Path.Combine(modelsDirectory, id);
        Directory.CreateDirectory(folder);
        foreach (var relative in new[] { ManifestTemplates.TokenizerFile, ManifestTemplates.TextEncoderFile, ManifestTemplates.TransformerFile, ManifestTemplates.VaeEncoderFile, ManifestTemplates.VaeDecoderFile })
        {
            File.WriteAllText(Path.Combine(folder, relative), $"placeholder for {relative}");
        }

        ModelPackageWriter.Seal(folder, new ModelPackageManifest
        {
            SchemaVersion = ModelPackageManifest.CurrentSchemaVersion,
            Id = id,
            DisplayName = displayName ?? $"Test model {id}",
            Demo = demo,
            Family = family,
            Variant = variant,
            Licence = licence,
            Precision = new PrecisionInfo { Weights = compute == "fp32" ? "fp32" : "bf16", Compute = compute },
            Sampling = ManifestTemplates.SamplingFor(variant),
            TextEncoder = new TextEncoderInfo { Id = "qwen3-test", HiddenSize = 16, ContextDim = 48 },
            Tokenizer = new TokenizerInfo { File = ManifestTemplates.TokenizerFile },
            Components = ManifestTemplates.StandardComponents(),
            Transformer = new TransformerInfo { Hidden = 64, Heads = 2, DoubleBlocks = 2, SingleBlocks = 2 },
        });
        return folder;
    }
}
