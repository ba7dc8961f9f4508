using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.TextEncoding;
using FluxWeb.Inference.Transformer;
using FluxWeb.Inference.Vae;

namespace FluxWeb.Inference.Packages;

/// <summary>
/// The demo package: klein's real architecture at a tiny size with seeded random weights and the
/// real Qwen3 tokenizer. It runs on any CPU in well under a second, so the whole product (and every
/// test) works without downloading 20 GB; its images are noise and it says so everywhere.
/// </summary>
public static class DemoPackage
{
    public const string DefaultId = "demo";
    public const ulong DefaultSeed = 20260101;

    /// <param name="variant">Base makes a demo of the undistilled variants: more steps and classifier-free guidance, same weights.</param>
    public static ModelPackageManifest Create(string modelsDirectory, string id = DefaultId, ModelLicence? licence = null, ulong seed = DefaultSeed, IProgress<string>? progress = null, ModelVariant variant = ModelVariant.Distilled)
    {
        licence ??= ModelLicence.Apache2();
        var textConfig = Qwen3Config.DemoTiny;
        var transformerConfig = Flux2TransformerConfig.DemoTiny(Qwen3TextEncoderGraph.OutputWidth(textConfig));
        var vaeConfig = Flux2VaeConfig.DemoTiny;

        return PackageStaging.Build(modelsDirectory, id, folder =>
        {
            progress?.Report("writing seeded random weights");
            var weights = new PackageWeights(
                Path.Combine(folder, "weights", "text_encoder", "model.safetensors"), textConfig,
                Path.Combine(folder, "weights", "transformer", "diffusion_pytorch_model.safetensors"), transformerConfig,
                Path.Combine(folder, "weights", "vae", "diffusion_pytorch_model.safetensors"), vaeConfig);
            foreach (var file in new[] { weights.TextEncoder, weights.Transformer, weights.Vae })
            {
                Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            }

            Qwen3RandomWeights.Write(weights.TextEncoder, textConfig, seed);
            Flux2TransformerRandomWeights.Write(weights.Transformer, transformerConfig, seed + 1);
            Flux2VaeRandomWeights.Write(weights.Vae, vaeConfig, seed + 2);
            File.Copy(KleinPromptTokenizer.BundledTokenizerPath, Path.Combine(folder, ManifestTemplates.TokenizerFile));

            var built = PackageComponents.Build(folder, weights, ComputePrecision.Float32, progress);
            return new ModelPackageManifest
            {
                SchemaVersion = ModelPackageManifest.CurrentSchemaVersion,
                Id = id,
                DisplayName = (variant == ModelVariant.Base ? "FLUX.2 [klein] Base demo" : "FLUX.2 [klein] demo") + (licence.CommercialUse == true ? "" : " (non-commercial)"),
                Description = "klein's architecture at a tiny size with seeded random weights: it exercises every part of FluxWeb, and its images are noise.",
                Family = "demo-tiny",
                Variant = variant,
                Demo = true,
                Licence = licence,
                Precision = new PrecisionInfo { Weights = "fp32", Compute = ComputePrecision.Float32.ManifestName() },
                Sampling = ManifestTemplates.SamplingFor(variant),
                TextEncoder = new TextEncoderInfo { Id = $"qwen3-demo-{seed}", HiddenSize = textConfig.HiddenSize, ContextDim = transformerConfig.ContextDim, MaxTokens = KleinPromptTokenizer.MaxLength },
                Tokenizer = new TokenizerInfo { File = ManifestTemplates.TokenizerFile },
                Components = built.Components,
                Preview = built.Preview,
                Transformer = new TransformerInfo
                {
                    Hidden = transformerConfig.Hidden,
                    Heads = transformerConfig.Heads,
                    DoubleBlocks = transformerConfig.DoubleBlocks,
                    SingleBlocks = transformerConfig.SingleBlocks,
                    Parameters = built.TransformerParameters,
                },
                Build = new BuildInfo { Tool = BuildTool, CreatedUtc = DateTimeOffset.UtcNow, Source = "seeded random weights", Seed = seed.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            };
        }, progress);
    }

    public static string BuildTool { get; } = $"FluxWeb {typeof(DemoPackage).Assembly.GetName().Version}";
}
