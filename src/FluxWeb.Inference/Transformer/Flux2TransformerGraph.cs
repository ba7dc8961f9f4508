using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Transformer;

/// <summary>
/// The FLUX.2 [klein] transformer as one ONNX graph, from BFL or diffusers weights (also BFL's FP8
/// files). The token count is dynamic, so reference images simply append tokens. Inputs and
/// output are float32 whatever the compute precision.
/// </summary>
public static class Flux2TransformerGraph
{
    public const string HiddenStates = "hidden_states";
    public const string EncoderHiddenStates = "encoder_hidden_states";
    public const string Timestep = "timestep";
    public const string ImageIds = "img_ids";
    public const string TextIds = "txt_ids";
    public const string Output = "output";

    /// <summary>Checkpoint tensors the graph leaves out on purpose: FP8/NVFP4 activation scales (the graph dequantises weights only).</summary>
    public static IReadOnlyList<string> UnusedByDesign(WeightSet weights) =>
        weights.Names.Where(n => n.EndsWith(".input_scale", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();

    /// <param name="taps">When given, receives the values of named intermediates (the oracle's names) so tests can expose them as outputs.</param>
    public static OnnxGraphBuilder Build(WeightSet weights, Flux2TransformerConfig config, ComputePrecision precision, string modelDirectory, IDictionary<string, string>? taps = null)
    {
        config.Validate();
        var names = Flux2WeightNames.Detect(weights);
        var g = new OnnxGraphBuilder($"flux2_{config.Name}_transformer", precision, modelDirectory);
        var b = new Builder(g, weights, names, config);

        var x = g.Float32Input(HiddenStates, "batch", "image_tokens", config.InChannels);
        var context = g.Float32Input(EncoderHiddenStates, "batch", "text_tokens", config.ContextDim);
        var timestep = g.Input(Timestep, DataType.Float, "batch");
        var imageIds = g.Input(ImageIds, DataType.Float, "image_tokens", 4);
        var textIds = g.Input(TextIds, DataType.Float, "text_tokens", 4);

        var (cos, sin) = b.RotaryTables(textIds, imageIds);
        var temb = b.TimestepEmbedding(timestep);
        var activeTemb = g.SiLU(temb);
        taps?.Add("vec", temb);
        var modImage = b.Modulation(activeTemb, names.DoubleModulation("img"), 6);
        var modText = b.Modulation(activeTemb, names.DoubleModulation("txt"), 6);
        var modSingle = b.Modulation(activeTemb, names.SingleModulation, 3);

        var image = b.Linear(x, names.ImageIn, config.Hidden, config.InChannels);
        var text = b.Linear(context, names.TextIn, config.Hidden, config.ContextDim);
        taps?.Add("img_in", image);
        taps?.Add("txt_in", text);
        var textLength = g.Dim(text, 1);
        var imageLength = g.Dim(image, 1);

        for (var block = 0; block < config.DoubleBlocks; block++)
        {
            using var scope = g.Scope($"double_blocks.{block}");
            (image, text) = b.DoubleBlock(block, image, text, modImage, modText, cos, sin, textLength, imageLength);
            taps?.Add($"double{block}_img", image);
            taps?.Add($"double{block}_txt", text);
        }

        var joint = g.Op("Concat", [text, image], a => a.Int("axis", 1));
        for (var block = 0; block < config.SingleBlocks; block++)
        {
            using var scope = g.Scope($"single_blocks.{block}");
            joint = b.SingleBlock(block, joint, modSingle, cos, sin);
            taps?.Add($"single{block}", joint);
        }

        using (g.Scope("final_layer"))
        {
            var imageOut = g.Op("Slice", [joint, textLength, g.Int64(long.MaxValue), g.Int64(1)]);
            var final = b.Linear(activeTemb, names.FinalModulation, 2L * config.Hidden, config.Hidden);
            var chunks = g.SplitLast(g.Op("Unsqueeze", [final, g.Int64(1)]), 2);
            var (shift, scale) = names.FinalShiftFirst ? (chunks[0], chunks[1]) : (chunks[1], chunks[0]);
            var normalized = g.Modulate(g.LayerNormNoAffine(imageOut, config.Hidden, Flux2TransformerConfig.NormEpsilon), shift, scale);
            var prediction = b.Linear(normalized, names.FinalLinear, config.InChannels, config.Hidden);
            g.Output(g.Precision == ComputePrecision.Float32 ? prediction : g.Cast(prediction, DataType.Float), Output, DataType.Float, "batch", "image_tokens", config.InChannels);
        }

        return g;
    }

    private sealed class Builder(OnnxGraphBuilder g, WeightSet weights, Flux2WeightNames names, Flux2TransformerConfig config)
    {
        private int H => config.Hidden;

        /// <summary>A weight that is never quantized (norm scales).</summary>
        public string W(string name, params long[] shape) => g.Weight(weights, name, shape);

        /// <summary>y = x·Wᵀ for the linear <paramref name="name"/> [outputs, inputs], whatever its storage (bf16, FP8, NVFP4).</summary>
        public string Linear(string x, string name, long outputs, long inputs) =>
            QuantizedLinears.Storage(weights, name) == LinearStorage.Plain
                ? g.Linear(x, g.Weight(weights, name, [outputs, inputs]))
                : QuantizedLinears.Linear(g, weights, x, name, outputs, inputs);

        /// <summary>
        /// Per-token cos/sin [text + image tokens, head_dim/2] from 4-axis ids (t, h, w, l): angle = id_axis·θ^(−2j/axis_dim),
        /// in float64 as the reference does, kept in float32 (the rotation runs in float32, see <see cref="JointAttention"/>).
        /// </summary>
        public (string Cos, string Sin) RotaryTables(string textIds, string imageIds)
        {
            using var scope = g.Scope("rope");
            var half = config.HeadDim / 2;
            var frequencies = new double[4 * half];
            var column = 0;
            for (var axis = 0; axis < 4; axis++)
            {
                var dim = config.AxesDim[axis];
                for (var j = 0; j < dim / 2; j++)
                {
                    // One non-zero per column: the MatMul below picks the axis's id without rounding.
                    frequencies[axis * half + column] = 1.0 / Math.Pow(config.Theta, 2.0 * j / dim);
                    column++;
                }
            }

            var ids = g.Cast(g.Op("Concat", [textIds, imageIds], a => a.Int("axis", 0)), DataType.Double);
            var angles = g.Op("MatMul", [ids, g.DoubleConstant(frequencies, 4, half)]);
            var cos = g.Cast(g.Op("Cos", [angles]), DataType.Float);
            var sin = g.Cast(g.Op("Sin", [angles]), DataType.Float);
            return (cos, sin);
        }

        /// <summary>sinusoid(1000·σ) with cos first, then Linear → SiLU → Linear.</summary>
        public string TimestepEmbedding(string timestep)
        {
            using var scope = g.Scope("time_in");
            var half = config.TimestepDim / 2;
            // The reference computes these in float32; reproduce each float32 rounding, but take cos/sin
            // in float64 because arguments reach ~1000 rad, where vectorised float32 kernels lose digits.
            var frequencies = ReferenceFloat32.TimestepFrequencies(half);
            var t = g.Op("Unsqueeze", [g.Op("Mul", [timestep, g.Float32Constant([1000f])]), g.Int64(1)]);
            var arguments = g.Cast(g.Op("Mul", [t, g.Float32Constant(frequencies, 1, half)]), DataType.Double);
            var embedding = g.Cast(g.Op("Concat", [g.Op("Cos", [arguments]), g.Op("Sin", [arguments])], a => a.Int("axis", -1)), DataType.Float);
            var hidden = Linear(g.ToCompute(embedding, DataType.Float), names.TimeIn1, H, config.TimestepDim);
            return Linear(g.SiLU(hidden), names.TimeIn2, H, H);
        }

        /// <summary>Shared modulation: Linear(SiLU(temb)) split into chunks of H, each [B, 1, H] to broadcast over tokens.</summary>
        public string[] Modulation(string activeTemb, string weight, int chunks)
        {
            var projected = Linear(activeTemb, weight, (long)chunks * H, H);
            return g.SplitLast(g.Op("Unsqueeze", [projected, g.Int64(1)]), chunks);
        }

        private (string Q, string K, string V) Projections(int block, bool text, string normalized)
        {
            if (names.FusedQkv(block, text) is { } fused)
            {
                var qkv = g.SplitLast(Linear(normalized, fused, 3L * H, H), 3);
                return (qkv[0], qkv[1], qkv[2]);
            }

            var (q, k, v) = names.SplitQkv(block, text);
            return (Linear(normalized, q, H, H), Linear(normalized, k, H, H), Linear(normalized, v, H, H));
        }

        private string FeedForward(string x, string inWeight, string outWeight)
        {
            var parts = g.SplitLast(Linear(x, inWeight, 2L * config.MlpHidden, H), 2);
            return Linear(g.Op("Mul", [g.SiLU(parts[0]), parts[1]]), outWeight, H, config.MlpHidden);
        }

        public (string Image, string Text) DoubleBlock(int block, string image, string text, string[] modImage, string[] modText, string cos, string sin, string textLength, string imageLength)
        {
            var streams = new[] { (Text: true, X: text, Mod: modText), (Text: false, X: image, Mod: modImage) };
            var q = new string[2];
            var k = new string[2];
            var v = new string[2];
            for (var s = 0; s < 2; s++)
            {
                var (isText, x, mod) = streams[s];
                var normalized = g.Modulate(g.LayerNormNoAffine(x, H, Flux2TransformerConfig.NormEpsilon), mod[0], mod[1]);
                var (qs, ks, vs) = Projections(block, isText, normalized);
                var (qNorm, kNorm) = names.DoubleQkNorm(block, isText);
                q[s] = g.HeadRmsNorm(qs, W(qNorm, config.HeadDim), config.Heads, config.HeadDim, Flux2TransformerConfig.NormEpsilon);
                k[s] = g.HeadRmsNorm(ks, W(kNorm, config.HeadDim), config.Heads, config.HeadDim, Flux2TransformerConfig.NormEpsilon);
                v[s] = vs;
            }

            // Joint attention over [text, image]: the token order the RoPE tables were built for.
            var attention = JointAttention(
                g.Op("Concat", [q[0], q[1]], a => a.Int("axis", 1)),
                g.Op("Concat", [k[0], k[1]], a => a.Int("axis", 1)),
                g.Op("Concat", [v[0], v[1]], a => a.Int("axis", 1)),
                cos,
                sin);
            var split = g.Ops("Split", [attention, g.Op("Concat", [textLength, imageLength], a => a.Int("axis", 0))], 2, a => a.Int("axis", 1));

            var results = new string[2];
            for (var s = 0; s < 2; s++)
            {
                var (isText, x, mod) = streams[s];
                var attended = g.Op("Add", [x, g.Op("Mul", [mod[2], Linear(split[s], names.AttentionOut(block, isText), H, H)])]);
                var (mlpIn, mlpOut) = names.DoubleMlp(block, isText);
                var normalized = g.Modulate(g.LayerNormNoAffine(attended, H, Flux2TransformerConfig.NormEpsilon), mod[3], mod[4]);
                results[s] = g.Op("Add", [attended, g.Op("Mul", [mod[5], FeedForward(normalized, mlpIn, mlpOut)])]);
            }

            return (results[1], results[0]);
        }

        public string SingleBlock(int block, string joint, string[] mod, string cos, string sin)
        {
            var m = config.MlpHidden;
            var normalized = g.Modulate(g.LayerNormNoAffine(joint, H, Flux2TransformerConfig.NormEpsilon), mod[0], mod[1]);
            var parts = g.SplitLast(Linear(normalized, names.SingleIn(block), 3L * H + 2L * m, H), H, H, H, m, m);
            var (qNorm, kNorm) = names.SingleQkNorm(block);
            var q = g.HeadRmsNorm(parts[0], W(qNorm, config.HeadDim), config.Heads, config.HeadDim, Flux2TransformerConfig.NormEpsilon);
            var k = g.HeadRmsNorm(parts[1], W(kNorm, config.HeadDim), config.Heads, config.HeadDim, Flux2TransformerConfig.NormEpsilon);
            var attention = JointAttention(q, k, parts[2], cos, sin);
            var mlp = g.Op("Mul", [g.SiLU(parts[3]), parts[4]]);
            var output = Linear(g.Op("Concat", [attention, mlp], a => a.Int("axis", -1)), names.SingleOut(block), H, (long)H + m);
            return g.Op("Add", [joint, g.Op("Mul", [mod[2], output])]);
        }

        private string JointAttention(string q, string k, string v, string cos, string sin) =>
            g.Attention(Rotate(q, cos, sin), Rotate(k, cos, sin), v, config.Heads);

        /// <summary>RoPE in float32 whatever the compute type, as diffusers does (x.float()·cos + rotated·sin, then back).</summary>
        private string Rotate(string x, string cos, string sin) => g.Precision == ComputePrecision.Float32
            ? g.Rotary(x, cos, sin, config.Heads, interleaved: true)
            : g.Cast(g.Rotary(g.Cast(x, DataType.Float), cos, sin, config.Heads, interleaved: true), g.ComputeType);
    }
}
