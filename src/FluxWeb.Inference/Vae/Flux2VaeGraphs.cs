using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Vae;

/// <summary>
/// Builds the FLUX.2 VAE encoder and decoder as ONNX graphs whose weights stay in the checkpoint
/// (external data into the .safetensors file). Both graphs take and give float32 whatever the
/// compute precision, accept any batch and any image size that is a multiple of
/// <see cref="Flux2VaeConfig.LatentScale"/>, and read BFL or diffusers names.
/// </summary>
public static class Flux2VaeGraphs
{
    public const string EncoderInput = "image";
    public const string EncoderOutput = "latents";
    public const string DecoderInput = "latents";
    public const string DecoderOutput = "image";

    /// <summary>
    /// The opset to save these graphs with. ONNX Runtime registers its CUDA bf16 Conv kernel only for
    /// Conv-22; at the builder's default opset 21 a bf16 graph finds no CUDA Conv.
    /// </summary>
    public const long Opset = 22;

    /// <summary>Saves a graph built here with <see cref="Opset"/> (the path must be in the model folder given at build time).</summary>
    public static void Save(OnnxGraphBuilder graph, string path) => graph.Save(path, Opset);

    /// <summary>
    /// <c>image</c> float32 [batch, 3, H, W] in [−1, 1] → <c>latents</c> float32 [batch, 128, H/16, W/16]:
    /// encoder → quant_conv → posterior mean → 2×2 patchify → BatchNorm statistics.
    /// </summary>
    /// <param name="modelDirectory">Folder the .onnx will be saved in; the weight files must be inside it.</param>
    public static OnnxGraphBuilder BuildEncoder(WeightSet weights, Flux2VaeConfig config, ComputePrecision precision, string modelDirectory) =>
        BuildEncoder(weights, config, precision, modelDirectory, probe: null);

    /// <summary>
    /// <c>latents</c> float32 [batch, 128, h, w] → <c>image</c> float32 [batch, 3, 16h, 16w], not clamped:
    /// undo the BatchNorm normalisation → unpatchify → post_quant_conv → decoder.
    /// </summary>
    public static OnnxGraphBuilder BuildDecoder(WeightSet weights, Flux2VaeConfig config, ComputePrecision precision, string modelDirectory) =>
        BuildDecoder(weights, config, precision, modelDirectory, probe: null);

    /// <param name="probe">Called with a BFL module path and the value it produces (for tests that compare intermediates).</param>
    internal static OnnxGraphBuilder BuildEncoder(WeightSet weights, Flux2VaeConfig config, ComputePrecision precision, string modelDirectory, Action<string, string>? probe)
    {
        var body = new VaeGraphBody(weights, config, precision, modelDirectory, "flux2_vae_encoder", probe);
        return body.Encoder();
    }

    internal static OnnxGraphBuilder BuildDecoder(WeightSet weights, Flux2VaeConfig config, ComputePrecision precision, string modelDirectory, Action<string, string>? probe)
    {
        var body = new VaeGraphBody(weights, config, precision, modelDirectory, "flux2_vae_decoder", probe);
        return body.Decoder();
    }

    /// <summary>Names stay BFL module paths in node scopes and probes whatever the checkpoint's naming, so profiles and intermediates read the same.</summary>
    private sealed class VaeGraphBody
    {
        private readonly OnnxGraphBuilder g;
        private readonly WeightSet weights;
        private readonly Flux2VaeConfig config;
        private readonly Flux2VaeWeightNames names;
        private readonly Action<string, string>? probe;

        public VaeGraphBody(WeightSet weights, Flux2VaeConfig config, ComputePrecision precision, string modelDirectory, string graphName, Action<string, string>? probe)
        {
            this.weights = weights;
            this.config = config;
            this.probe = probe;
            names = new Flux2VaeWeightNames(Flux2VaeWeightNames.DetectNaming(weights), config);
            g = new OnnxGraphBuilder(graphName, precision, modelDirectory);
        }

        private DataType Compute => g.ComputeType;

        public OnnxGraphBuilder Encoder()
        {
            var image = g.Float32Input(EncoderInput, "batch", config.ImageChannels, "height", "width");
            var h = Conv("encoder.conv_in", "encoder.conv_in", image, config.ImageChannels, config.BaseChannels, 3);
            var channels = config.BaseChannels;
            for (var level = 0; level < config.Levels; level++)
            {
                var outChannels = config.LevelChannels(level);
                for (var block = 0; block < config.EncoderResBlocks; block++)
                {
                    h = Resnet($"encoder.down.{level}.block.{block}", names.EncoderResnet(level, block), h, channels, outChannels);
                    channels = outChannels;
                }

                if (level != config.Levels - 1)
                {
                    using (g.Scope($"encoder.down.{level}.downsample"))
                    {
                        // torch pads (0, 1, 0, 1) then convolves without padding; a Conv with
                        // asymmetric pads is the same sum and avoids Pad, which has no CUDA bf16 kernel.
                        h = g.Conv2d(h, ConvWeight(names.Downsample(level), channels, channels, 3), Bias(names.Downsample(level), channels), stride: 2, pads: [0, 0, 1, 1]);
                    }

                    Probe($"encoder.down.{level}.downsample", h);
                }
            }

            h = Mid("encoder", h);
            h = NormActivation("encoder.norm_out", names.NormOut("encoder"), h, config.MidChannels);
            h = Conv("encoder.conv_out", "encoder.conv_out", h, config.MidChannels, config.MomentChannels, 3);
            var moments = Conv("encoder.quant_conv", names.QuantConv, h, config.MomentChannels, config.MomentChannels, 1);

            using (g.Scope("latent"))
            {
                var mean = g.Op("Slice", [moments, g.Int64(0), g.Int64(config.LatentChannels), g.Int64(1)]);
                var patchified = g.Patchify2x2(g.ToCompute32(mean, Compute), config.LatentChannels);
                var (runningMean, standardDeviation) = LatentStatistics();
                var normalized = g.Op("Div", [g.Op("Sub", [patchified, runningMean]), standardDeviation]);
                g.Output(normalized, EncoderOutput, DataType.Float, "batch", config.PatchedLatentChannels, "latent_height", "latent_width");
            }

            return g;
        }

        public OnnxGraphBuilder Decoder()
        {
            var latents = g.Input(DecoderInput, DataType.Float, "batch", config.PatchedLatentChannels, "latent_height", "latent_width");
            string z;
            using (g.Scope("latent"))
            {
                var (runningMean, standardDeviation) = LatentStatistics();
                var unnormalized = g.Op("Add", [g.Op("Mul", [latents, standardDeviation]), runningMean]);
                z = g.ToCompute(g.Unpatchify2x2(unnormalized, config.LatentChannels), DataType.Float);
            }

            var h = Conv("decoder.post_quant_conv", names.PostQuantConv, z, config.LatentChannels, config.LatentChannels, 1);
            h = Conv("decoder.conv_in", "decoder.conv_in", h, config.LatentChannels, config.MidChannels, 3);
            h = Mid("decoder", h);
            var channels = config.MidChannels;
            for (var level = config.Levels - 1; level >= 0; level--)
            {
                var outChannels = config.LevelChannels(level);
                for (var block = 0; block < config.DecoderResBlocks; block++)
                {
                    h = Resnet($"decoder.up.{level}.block.{block}", names.DecoderResnet(level, block), h, channels, outChannels);
                    channels = outChannels;
                }

                if (level != 0)
                {
                    using (g.Scope($"decoder.up.{level}.upsample"))
                    {
                        h = g.Conv2d(g.UpsampleNearest2x(h), ConvWeight(names.Upsample(level), channels, channels, 3), Bias(names.Upsample(level), channels), pads: [1, 1, 1, 1]);
                    }

                    Probe($"decoder.up.{level}.upsample", h);
                }
            }

            h = NormActivation("decoder.norm_out", names.NormOut("decoder"), h, channels);
            h = Conv("decoder.conv_out", "decoder.conv_out", h, channels, config.ImageChannels, 3);
            g.Output(g.ToCompute32(h, Compute), DecoderOutput, DataType.Float, "batch", config.ImageChannels, "image_height", "image_width");
            return g;
        }

        /// <summary>BatchNorm2d(eval, affine=False) statistics as float32 [C, 1, 1]: running mean and sqrt(running_var + eps).</summary>
        private (string Mean, string StandardDeviation) LatentStatistics()
        {
            var channels = config.PatchedLatentChannels;
            weights.Get(Flux2VaeWeightNames.RunningMean, channels);
            weights.Get(Flux2VaeWeightNames.RunningVariance, channels);
            var perChannel = g.Int64(channels, 1, 1);
            var mean = g.Op("Reshape", [g.Weight32(weights, Flux2VaeWeightNames.RunningMean), perChannel]);
            var variance = g.Op("Reshape", [g.Weight32(weights, Flux2VaeWeightNames.RunningVariance), perChannel]);
            var standardDeviation = g.Op("Sqrt", [g.Op("Add", [variance, g.Float32Constant([config.BatchNormEpsilon])])]);
            return (mean, standardDeviation);
        }

        private string Mid(string part, string h)
        {
            var c = config.MidChannels;
            h = Resnet($"{part}.mid.block_1", names.MidResnet(part, 0), h, c, c);
            h = Attention($"{part}.mid.attn_1", part, h, c);
            return Resnet($"{part}.mid.block_2", names.MidResnet(part, 1), h, c, c);
        }

        private string Resnet(string path, string module, string x, int inChannels, int outChannels)
        {
            string result;
            using (g.Scope(path))
            {
                var h = NormActivation(null, module + ".norm1", x, inChannels);
                h = g.Conv2d(h, ConvWeight(module + ".conv1", inChannels, outChannels, 3), Bias(module + ".conv1", outChannels), pads: [1, 1, 1, 1]);
                h = NormActivation(null, module + ".norm2", h, outChannels);
                h = g.Conv2d(h, ConvWeight(module + ".conv2", outChannels, outChannels, 3), Bias(module + ".conv2", outChannels), pads: [1, 1, 1, 1]);
                var shortcut = inChannels == outChannels
                    ? x
                    : g.Conv2d(x, ConvWeight(names.Shortcut(module), inChannels, outChannels, 1), Bias(names.Shortcut(module), outChannels));
                result = g.Op("Add", [shortcut, h]);
            }

            Probe(path, result);
            return result;
        }

        /// <summary>Single-head self-attention over the H·W positions (scale C^-0.5), with a residual.</summary>
        private string Attention(string path, string part, string x, int channels)
        {
            string result;
            using (g.Scope(path))
            {
                var normalized = GroupNorm(names.MidAttentionNorm(part), x, channels);
                var tokens = g.ToTokens(normalized, channels);
                string Project(string input, char projection)
                {
                    var module = names.MidAttentionProjection(part, projection);
                    var weight = g.Weight(weights, module + ".weight", names.AttentionWeightShape(channels));
                    if (names.Naming == Flux2VaeNaming.Bfl)
                    {
                        weight = g.Op("Reshape", [weight, g.Int64(channels, channels)]);
                    }

                    return g.LinearWithBias(input, weight, Bias(module, channels));
                }

                // One head of width C (512 in the real VAE). Flash attention stops at head size 256;
                // ONNX Runtime's CUDA MultiHeadAttention then takes its CUTLASS memory-efficient
                // kernel (head sizes up to 1024), so 16384 positions (1024² images) need no
                // 16384² score matrix. The CPU kernel does build that matrix (1 GiB in float32).
                var attended = g.Attention(Project(tokens, 'q'), Project(tokens, 'k'), Project(tokens, 'v'), heads: 1);
                result = g.Op("Add", [x, g.FromTokens(Project(attended, 'o'), x)]);
            }

            Probe(path, result);
            return result;
        }

        private string NormActivation(string? path, string module, string x, int channels)
        {
            string h;
            using (path is null ? null : g.Scope(path))
            {
                h = g.SiLU(GroupNorm(module, x, channels));
            }

            return h;
        }

        private string GroupNorm(string module, string x, int channels)
        {
            weights.Get(module + ".weight", channels);
            weights.Get(module + ".bias", channels);
            return g.GroupNorm(x, Compute, g.Weight32(weights, module + ".weight"), g.Weight32(weights, module + ".bias"), channels, config.Groups, config.GroupNormEpsilon);
        }

        private string Conv(string path, string module, string x, int inChannels, int outChannels, int kernel)
        {
            string h;
            using (g.Scope(path))
            {
                var pad = kernel / 2;
                h = g.Conv2d(x, ConvWeight(module, inChannels, outChannels, kernel), Bias(module, outChannels), pads: [pad, pad, pad, pad]);
            }

            Probe(path, h);
            return h;
        }

        private string ConvWeight(string module, int inChannels, int outChannels, int kernel) =>
            g.Weight(weights, module + ".weight", [outChannels, inChannels, kernel, kernel]);

        private string Bias(string module, int channels) => g.Weight(weights, module + ".bias", [channels]);

        private void Probe(string path, string value) => probe?.Invoke(path, value);
    }

    /// <summary>Casts a compute-type value to float32 (a no-op in float32 graphs).</summary>
    private static string ToCompute32(this OnnxGraphBuilder g, string value, DataType computeType) =>
        computeType == DataType.Float ? value : g.Cast(value, DataType.Float);
}
