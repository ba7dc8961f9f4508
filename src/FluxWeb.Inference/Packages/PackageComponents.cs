using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.TextEncoding;
using FluxWeb.Inference.Transformer;
using FluxWeb.Inference.Vae;

namespace FluxWeb.Inference.Packages;

/// <summary>Where a package's checkpoint files are (inside its folder) and what architecture they hold.</summary>
public sealed record PackageWeights(
    string TextEncoder,
    Qwen3Config TextEncoderConfig,
    string Transformer,
    Flux2TransformerConfig TransformerConfig,
    string Vae,
    Flux2VaeConfig VaeConfig);

/// <summary>Builds the four ONNX graphs of a package next to its weights and reports what they bound.</summary>
public static class PackageComponents
{
    public sealed record BuiltComponents(ComponentSet Components, long TransformerParameters, IReadOnlyList<string> Unused, LatentPreviewInfo Preview);

    public static BuiltComponents Build(string folder, PackageWeights weights, ComputePrecision precision, IProgress<string>? progress = null)
    {
        var components = ManifestTemplates.StandardComponents();
        var unused = new List<string>();

        progress?.Report("building the text encoder graph");
        var textWeights = InComputeType("text_encoder", weights.TextEncoder, w => [Qwen3TextEncoderGraph.Build(w, weights.TextEncoderConfig, precision, folder)]);
        Qwen3TextEncoderGraph.Build(textWeights, weights.TextEncoderConfig, precision, folder).Save(Path.Combine(folder, ManifestTemplates.TextEncoderFile));
        unused.AddRange(Qwen3TextEncoderGraph.UnusedCheckpointTensors(textWeights, weights.TextEncoderConfig));
        components.TextEncoder!.WeightBytes = BoundBytes(textWeights);

        progress?.Report("building the transformer graph");
        var transformerWeights = InComputeType("transformer", weights.Transformer, w => [Flux2TransformerGraph.Build(w, weights.TransformerConfig, precision, folder)]);
        var transformer = Flux2TransformerGraph.Build(transformerWeights, weights.TransformerConfig, precision, folder);
        transformer.Save(Path.Combine(folder, ManifestTemplates.TransformerFile));
        unused.AddRange(Flux2TransformerGraph.UnusedByDesign(transformerWeights));
        components.Transformer!.WeightBytes = BoundBytes(transformerWeights);

        progress?.Report("building the VAE graphs");
        WeightSet OpenVae() => InComputeType("vae", weights.Vae, w => [Flux2VaeGraphs.BuildEncoder(w, weights.VaeConfig, precision, folder), Flux2VaeGraphs.BuildDecoder(WeightSet.Open(weights.Vae), weights.VaeConfig, precision, folder)]);
        var vaeWeights = OpenVae();
        Flux2VaeGraphs.Save(Flux2VaeGraphs.BuildEncoder(vaeWeights, weights.VaeConfig, precision, folder), Path.Combine(folder, ManifestTemplates.VaeEncoderFile));
        var vaeDecoderWeights = WeightSet.Open(weights.Vae).WithReplacementsFrom(vaeWeights);
        Flux2VaeGraphs.Save(Flux2VaeGraphs.BuildDecoder(vaeDecoderWeights, weights.VaeConfig, precision, folder), Path.Combine(folder, ManifestTemplates.VaeDecoderFile));
        components.VaeEncoder!.WeightBytes = BoundBytes(vaeWeights);
        components.VaeDecoder!.WeightBytes = BoundBytes(vaeDecoderWeights);
        unused.AddRange(vaeWeights.Unbound.Intersect(vaeDecoderWeights.Unbound));

        var unbound = textWeights.Unbound.Concat(transformerWeights.Unbound).Concat(vaeWeights.Unbound.Intersect(vaeDecoderWeights.Unbound)).Except(unused).ToList();
        if (unbound.Count > 0)
        {
            throw new InvalidOperationException($"The checkpoint holds tensors no graph uses, so it is not the architecture it claims: {string.Join(", ", unbound.Take(5))}{(unbound.Count > 5 ? ", …" : "")}.");
        }

        var elementBytes = precision == ComputePrecision.Float32 ? 4 : 2;
        components.TextEncoder.ActivationBytesPerUnit = Engine.ActivationEstimate.TextEncoderPerToken(weights.TextEncoderConfig.HiddenSize, elementBytes);
        components.Transformer.ActivationBytesPerUnit = Engine.ActivationEstimate.TransformerPerToken(weights.TransformerConfig.Hidden, elementBytes);
        components.VaeEncoder.ActivationBytesPerUnit = components.VaeDecoder.ActivationBytesPerUnit = Engine.ActivationEstimate.VaePerPixel(weights.VaeConfig.LevelChannels(0), elementBytes);

        progress?.Report("fitting the step-preview colours to this VAE");
        var preview = FitPreview(folder, weights, precision);
        return new BuiltComponents(components, transformer.BoundParameterCount, unused, preview);

        // fp16 graphs read fp16 copies written here once, instead of casting bf16/fp32 weights at every session load.
        WeightSet InComputeType(string component, string path, Func<WeightSet, OnnxGraphBuilder[]> build)
        {
            var original = WeightSet.Open(path);
            if (precision != ComputePrecision.Float16)
            {
                return original;
            }

            var cast = build(WeightSet.Open(path)).SelectMany(g => g.CastWeights).Distinct(StringComparer.Ordinal).ToList();
            if (cast.Count == 0)
            {
                return original;
            }

            var destination = Path.Combine(folder, "weights", "fp16", $"{component}.safetensors");
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            var written = Float16Copies.Write(original, cast, destination);
            progress?.Report($"wrote weights/fp16/{component}.safetensors: {written.Tensors} tensors as fp16 ({written.Bytes:N0} bytes), so loading casts nothing{(written.Saturated > 0 ? $"; {written.Saturated:N0} values beyond fp16's range saturated to ±65504" : "")}");
            return original.WithReplacements(SafeTensorsFile.Open(destination));
        }

        static LatentPreviewInfo FitPreview(string folder, PackageWeights weights, ComputePrecision precision)
        {
            // The fit runs on the CPU, which has no bf16 kernels: use a float32 twin of the encoder when needed.
            var encoderPath = Path.Combine(folder, ManifestTemplates.VaeEncoderFile);
            var twin = precision == ComputePrecision.Float32 ? null : Path.Combine(folder, "preview-fit-encoder.onnx");
            if (twin is not null)
            {
                Flux2VaeGraphs.Save(Flux2VaeGraphs.BuildEncoder(WeightSet.Open(weights.Vae), weights.VaeConfig, ComputePrecision.Float32, folder), twin);
            }

            try
            {
                using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(twin ?? encoderPath);
                return LatentPreviewFitter.Fit(session, Flux2VaeGraphs.EncoderInput, Flux2VaeGraphs.EncoderOutput);
            }
            finally
            {
                if (twin is not null)
                {
                    File.Delete(twin);
                }
            }
        }

        // In-memory size of what a graph binds, in the stored type (what a session keeps resident, roughly).
        static long BoundBytes(WeightSet set) => set.Bindings.Keys.Sum(name => set.Get(name).Info.Length);
    }
}
