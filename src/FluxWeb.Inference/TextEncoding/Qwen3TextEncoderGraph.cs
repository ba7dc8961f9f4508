using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.TextEncoding;

/// <summary>Choices that tests and tools need; production uses the defaults.</summary>
public sealed record Qwen3TextEncoderGraphOptions
{
    /// <summary>Length of the rotary tables, i.e. the longest sequence the graph accepts (klein: 512).</summary>
    public int MaxSequenceLength { get; init; } = KleinPromptTokenizer.MaxLength;

    /// <summary>
    /// Extra outputs <c>hidden_states_{k}</c> [batch, sequence, hidden] (float32), k = 0 (embeddings)
    /// up to 27, for comparing against the reference's hidden states when something drifts.
    /// </summary>
    public IReadOnlyList<int> HiddenStateOutputs { get; init; } = [];
}

/// <summary>
/// The FLUX.2 [klein] text encoder as an ONNX graph: Qwen3 up to decoder layer 26, returning
/// <c>concat(hidden_states[9], hidden_states[18], hidden_states[27])</c> per token, pads included.
/// Conventions follow transformers 4.56 + BFL's <c>Qwen3Embedder</c> exactly (see
/// tests/fixtures/qwen3-tiny/README.md): positions 0..S-1 in every row, attention allowed where
/// <c>key ≤ query AND attention_mask[key]</c> (pads attend to the real tokens of their row),
/// blocked scores get the lowest finite value (float32.MinValue, not −inf), q/k RMSNorm per head
/// before rotate-half RoPE, GQA by repeating key/value heads, scale head_dim^-0.5.
/// </summary>
public static class Qwen3TextEncoderGraph
{
    public const string InputIdsName = "input_ids";
    public const string AttentionMaskName = "attention_mask";
    public const string OutputName = "prompt_embeds";

    /// <summary>Which hidden states klein concatenates (BFL's OUTPUT_LAYERS_QWEN3); [k] is the output of decoder layer k-1.</summary>
    public static IReadOnlyList<int> KleinHiddenStates { get; } = [9, 18, 27];

    /// <summary>Decoder layers the graph contains (indices 0..LayersBuilt-1); later layers, the final norm and lm_head are never needed.</summary>
    public static int LayersBuilt => KleinHiddenStates[^1];

    /// <summary>Width of <see cref="OutputName"/>: 3 × hidden (7680 for Qwen3-4B, 12288 for Qwen3-8B).</summary>
    public static int OutputWidth(Qwen3Config config) => KleinHiddenStates.Count * config.HiddenSize;

    public static OnnxGraphBuilder Build(WeightSet weights, Qwen3Config config, ComputePrecision precision, string modelDirectory) =>
        Build(weights, config, precision, modelDirectory, new Qwen3TextEncoderGraphOptions());

    /// <summary>
    /// Builds the graph; the caller saves it into <paramref name="modelDirectory"/>, which must contain
    /// the weight files (they are referenced, not copied). Reads only the checkpoint headers.
    /// Throws when the checkpoint holds a tensor this architecture has no place for, so a checkpoint of
    /// another kind (attention biases, block-FP8 scales) fails here instead of running wrongly.
    /// </summary>
    public static OnnxGraphBuilder Build(WeightSet weights, Qwen3Config config, ComputePrecision precision, string modelDirectory, Qwen3TextEncoderGraphOptions options)
    {
        config.Validate();
        // With exactly 27 layers transformers' hidden_states[27] would be the final-normed output, not
        // the raw layer output this graph returns; no klein encoder is that small, so refuse it.
        if (config.LayerCount <= LayersBuilt)
        {
            throw new ArgumentException($"klein takes hidden_states[{LayersBuilt}] from a model with more than {LayersBuilt} layers; this one has {config.LayerCount}.", nameof(config));
        }

        if (options.MaxSequenceLength <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "MaxSequenceLength must be positive.");
        }

        foreach (var k in options.HiddenStateOutputs)
        {
            if (k < 0 || k > LayersBuilt)
            {
                throw new ArgumentOutOfRangeException(nameof(options), $"hidden_states_{k} is not computed by this graph (0..{LayersBuilt}).");
            }
        }

        var g = new OnnxGraphBuilder("qwen3_klein_text_encoder", precision, modelDirectory);
        var context = new BuildContext(g, weights, config);
        var inputIds = g.Input(InputIdsName, DataType.Int64, "batch", "sequence");
        var attentionMask = g.Input(AttentionMaskName, DataType.Int64, "batch", "sequence");

        var hiddenStates = new string[LayersBuilt + 1];
        using (g.Scope("model.embed_tokens"))
        {
            var table = context.Weight(Qwen3WeightNames.Embedding, config.VocabularySize, config.HiddenSize);
            hiddenStates[0] = g.Op("Gather", [table, inputIds], a => a.Int("axis", 0));
        }

        var attentionBias = BuildAttentionBias(g, inputIds, attentionMask);
        var (cosTable, sinTable) = Qwen3Rope.Tables(config, options.MaxSequenceLength);
        var cos = g.Constant(cosTable, options.MaxSequenceLength, config.HeadDim / 2);
        var sin = g.Constant(sinTable, options.MaxSequenceLength, config.HeadDim / 2);

        for (var i = 0; i < LayersBuilt; i++)
        {
            using (g.Scope($"model.layers.{i}"))
            {
                hiddenStates[i + 1] = DecoderLayer(context, Qwen3WeightNames.Layer(i), hiddenStates[i], attentionBias, cos, sin);
            }
        }

        var promptEmbeds = g.Op("Concat", [.. KleinHiddenStates.Select(k => hiddenStates[k])], a => a.Int("axis", -1));
        g.Output(ToFloat32(g, promptEmbeds), OutputName, DataType.Float, "batch", "sequence", OutputWidth(config));
        foreach (var k in options.HiddenStateOutputs.Distinct())
        {
            g.Output(ToFloat32(g, hiddenStates[k]), $"hidden_states_{k}", DataType.Float, "batch", "sequence", config.HiddenSize);
        }

        RejectUnexpectedTensors(weights, config);
        return g;
    }

    /// <summary>
    /// The checkpoint tensors the graph deliberately leaves out: decoder layers 27 and up, the final
    /// norm and lm_head (when the checkpoint stores one). Every other tensor is bound exactly once.
    /// </summary>
    public static IReadOnlyList<string> UnusedCheckpointTensors(WeightSet weights, Qwen3Config config) =>
        UnusedTensorNames(config).Where(weights.Contains).ToList();

    private static IEnumerable<string> UnusedTensorNames(Qwen3Config config) =>
        Qwen3WeightNames.All(config with { TieWordEmbeddings = false })
            .Select(t => t.Name)
            .Where(name => name is Qwen3WeightNames.FinalNorm or Qwen3WeightNames.LanguageModelHead
                || Qwen3WeightNames.LayerIndexOf(name) >= LayersBuilt);

    private static void RejectUnexpectedTensors(WeightSet weights, Qwen3Config config)
    {
        var unused = UnusedTensorNames(config).ToHashSet(StringComparer.Ordinal);
        var unexpected = weights.Unbound.Where(name => !unused.Contains(name)).Order(StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0)
        {
            var shown = string.Join(", ", unexpected.Take(5)) + (unexpected.Count > 5 ? $" and {unexpected.Count - 5} more" : "");
            throw new SafeTensorsException(Path.GetFileName(weights.Source), $"holds tensors a {config} text encoder has no place for: {shown}.");
        }
    }

    /// <summary>
    /// Additive attention bias [batch, 1, S, S] in the compute type: 0 where key ≤ query and the key is
    /// a real token, the lowest finite value elsewhere. The query side is never masked, so a pad query
    /// attends to every real token of its row and to no pad, exactly as transformers' eager path does.
    /// </summary>
    private static string BuildAttentionBias(OnnxGraphBuilder g, string inputIds, string attentionMask)
    {
        using var scope = g.Scope("attention_bias");
        var sequenceLength = g.Op("Squeeze", [g.Dim(inputIds, 1), g.Int64(0)]);
        var positions = g.Op("Range", [g.Int64Scalar(0), sequenceLength, g.Int64Scalar(1)]);
        var queryPositions = g.Op("Unsqueeze", [positions, g.Int64(1)]);
        var keyPositions = g.Op("Unsqueeze", [positions, g.Int64(0)]);
        var causal = g.Op("LessOrEqual", [keyPositions, queryPositions]);
        var keyIsReal = g.Op("Unsqueeze", [g.Cast(attentionMask, DataType.Bool), g.Int64(1, 2)]);
        var allowed = g.Op("And", [causal, keyIsReal]);
        // Mul rather than Where keeps to kernels every provider has for bf16; 0 · lowest = −0 adds nothing.
        var blocked = g.Cast(g.Op("Not", [allowed]), g.ComputeType);
        return g.Op("Mul", [blocked, g.Scalar(LowestFinite(g.Precision))]);
    }

    /// <summary>The reference adds float32.MinValue, not −inf; in bf16/fp16 that constant would round to −inf, so use the type's own lowest finite value.</summary>
    internal static float LowestFinite(ComputePrecision precision) => precision switch
    {
        ComputePrecision.Float16 => (float)Half.MinValue,
        ComputePrecision.BFloat16 => TensorConversion.BFloat16ToFloat(0xFF7F),
        _ => float.MinValue,
    };

    private static string DecoderLayer(BuildContext c, Qwen3LayerWeightNames names, string hidden, string attentionBias, string cos, string sin)
    {
        var g = c.Graph;
        var config = c.Config;
        var eps = config.RmsNormEpsilon;
        var attentionInput = g.RmsNorm(hidden, c.Weight(names.InputNorm, config.HiddenSize), eps);
        string attentionOutput;
        using (g.Scope("self_attn"))
        {
            var query = g.Linear(attentionInput, c.Weight(names.QueryProjection, config.QueryWidth, config.HiddenSize));
            var key = g.Linear(attentionInput, c.Weight(names.KeyProjection, config.KeyValueWidth, config.HiddenSize));
            var value = g.Linear(attentionInput, c.Weight(names.ValueProjection, config.KeyValueWidth, config.HiddenSize));
            query = g.HeadRmsNorm(query, c.Weight(names.QueryNorm, config.HeadDim), config.HeadCount, config.HeadDim, eps);
            key = g.HeadRmsNorm(key, c.Weight(names.KeyNorm, config.HeadDim), config.KeyValueHeadCount, config.HeadDim, eps);
            query = g.Rotary(query, cos, sin, config.HeadCount, interleaved: false);
            key = g.Rotary(key, cos, sin, config.KeyValueHeadCount, interleaved: false);
            key = RepeatKeyValueHeads(g, key, config);
            value = RepeatKeyValueHeads(g, value, config);
            var attended = g.Attention(query, key, value, config.HeadCount, attentionBias);
            attentionOutput = g.Linear(attended, c.Weight(names.OutputProjection, config.HiddenSize, config.QueryWidth));
        }

        hidden = g.Op("Add", [hidden, attentionOutput]);
        var mlpInput = g.RmsNorm(hidden, c.Weight(names.PostAttentionNorm, config.HiddenSize), eps);
        string mlpOutput;
        using (g.Scope("mlp"))
        {
            var gate = g.Linear(mlpInput, c.Weight(names.GateProjection, config.IntermediateSize, config.HiddenSize));
            var up = g.Linear(mlpInput, c.Weight(names.UpProjection, config.IntermediateSize, config.HiddenSize));
            mlpOutput = g.Linear(g.Op("Mul", [g.SiLU(gate), up]), c.Weight(names.DownProjection, config.HiddenSize, config.IntermediateSize));
        }

        return g.Op("Add", [hidden, mlpOutput]);
    }

    /// <summary>
    /// [B, S, kv·D] → [B, S, heads·D] with kv head j serving query heads j·g … j·g+g-1 (transformers'
    /// repeat_kv), so MultiHeadAttention, which has no GQA, sees one key/value head per query head.
    /// </summary>
    private static string RepeatKeyValueHeads(OnnxGraphBuilder g, string x, Qwen3Config config)
    {
        var group = config.QueryHeadsPerKeyValueHead;
        if (group == 1)
        {
            return x;
        }

        var split = g.Op("Reshape", [x, g.Int64(0, 0, config.KeyValueHeadCount, 1, config.HeadDim)]);
        var repeated = g.Op("Expand", [split, g.Int64(1, 1, 1, group, 1)]);
        return g.Op("Reshape", [repeated, g.Int64(0, 0, config.QueryWidth)]);
    }

    private static string ToFloat32(OnnxGraphBuilder g, string value) =>
        g.ComputeType == DataType.Float ? value : g.Cast(value, DataType.Float);

    private sealed class BuildContext(OnnxGraphBuilder graph, WeightSet weights, Qwen3Config config)
    {
        public OnnxGraphBuilder Graph => graph;

        public Qwen3Config Config => config;

        /// <summary>Binds a checkpoint tensor after checking its shape against the config, so a 4B config on an 8B file fails by name.</summary>
        public string Weight(string name, params long[] shape) => graph.Weight(weights, name, shape);
    }
}
