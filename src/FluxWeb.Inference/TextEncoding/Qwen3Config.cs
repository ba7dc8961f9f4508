using System.Globalization;
using System.Text.Json;

namespace FluxWeb.Inference.TextEncoding;

/// <summary>
/// The hyper-parameters of a Qwen3 decoder (transformers' <c>Qwen3Config</c>), as far as the klein
/// text encoder needs them. Only default RoPE, no attention biases and no sliding window are
/// supported: that is what every Qwen3 klein uses, and anything else is refused on load rather
/// than computed wrongly.
/// </summary>
public sealed record Qwen3Config(
    int HiddenSize,
    int IntermediateSize,
    int LayerCount,
    int HeadCount,
    int KeyValueHeadCount,
    int HeadDim,
    int VocabularySize,
    float RmsNormEpsilon = 1e-6f,
    double RopeTheta = 1e6,
    bool TieWordEmbeddings = true)
{
    /// <summary>Qwen3-4B, the text encoder of klein 4B and klein Base 4B.</summary>
    public static Qwen3Config Qwen3_4B { get; } = new(2560, 9728, 36, 32, 8, 128, 151936);

    /// <summary>Qwen3-8B, the text encoder of klein 9B and klein Base 9B (its lm_head is stored, not tied).</summary>
    public static Qwen3Config Qwen3_8B { get; } = new(4096, 12288, 36, 32, 8, 128, 151936, TieWordEmbeddings: false);

    /// <summary>The randomly initialised model behind <c>tests/fixtures/qwen3-tiny</c> (the oracle).</summary>
    public static Qwen3Config FixtureTiny { get; } = new(64, 160, 28, 4, 2, 16, 1024);

    /// <summary>
    /// A tiny model of the real architecture with the real vocabulary, so prompts from the real
    /// tokenizer run through it: the demo package and end-to-end tests. Its weights are random
    /// (<see cref="Qwen3RandomWeights"/>); the embedding dominates its ~5 M parameters.
    /// </summary>
    public static Qwen3Config DemoTiny { get; } = new(32, 64, 28, 2, 1, 16, 151936);

    public int QueryWidth => HeadCount * HeadDim;

    public int KeyValueWidth => KeyValueHeadCount * HeadDim;

    /// <summary>Query heads that share one key/value head (GQA group size).</summary>
    public int QueryHeadsPerKeyValueHead => HeadCount / KeyValueHeadCount;

    /// <summary>Checks the numbers are a buildable model; a config.json with zeros or a head count that does not divide fails here.</summary>
    public Qwen3Config Validate()
    {
        if (HiddenSize <= 0 || IntermediateSize <= 0 || LayerCount <= 0 || HeadCount <= 0 || KeyValueHeadCount <= 0 || HeadDim <= 0 || VocabularySize <= 0)
        {
            throw new ArgumentException($"Qwen3 config has a non-positive size: {this}.");
        }

        if (HeadCount % KeyValueHeadCount != 0)
        {
            throw new ArgumentException($"Qwen3 config: {HeadCount} attention heads are not a multiple of {KeyValueHeadCount} key/value heads.");
        }

        if (HeadDim % 2 != 0)
        {
            throw new ArgumentException($"Qwen3 config: head_dim {HeadDim} must be even for rotary embeddings.");
        }

        if (!(RmsNormEpsilon > 0) || !(RopeTheta > 1))
        {
            throw new ArgumentException($"Qwen3 config: rms_norm_eps {RmsNormEpsilon} and rope_theta {RopeTheta} must be positive (theta > 1).");
        }

        return this;
    }

    /// <summary>Reads a Hugging Face <c>config.json</c> (model_type qwen3).</summary>
    public static Qwen3Config FromHuggingFaceConfig(string configJsonPath) =>
        ParseHuggingFaceConfig(File.ReadAllText(configJsonPath), Path.GetFileName(configJsonPath));

    /// <summary>Parses the text of a Hugging Face <c>config.json</c>; <paramref name="shownName"/> names it in errors.</summary>
    public static Qwen3Config ParseHuggingFaceConfig(string json, string shownName = "config.json")
    {
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        if (root.TryGetProperty("model_type", out var modelType) && modelType.GetString() is { } type && type != "qwen3")
        {
            throw new NotSupportedException($"{shownName}: model_type '{type}' is not qwen3.");
        }

        if (root.TryGetProperty("rope_scaling", out var ropeScaling) && ropeScaling.ValueKind != JsonValueKind.Null)
        {
            throw new NotSupportedException($"{shownName}: rope_scaling {ropeScaling.GetRawText()} is not supported (klein's Qwen3 uses default RoPE).");
        }

        if (root.TryGetProperty("attention_bias", out var attentionBias) && attentionBias.ValueKind == JsonValueKind.True)
        {
            throw new NotSupportedException($"{shownName}: attention_bias true is not supported (Qwen3 has no attention biases).");
        }

        if (root.TryGetProperty("hidden_act", out var act) && act.GetString() is { } activation && activation != "silu")
        {
            throw new NotSupportedException($"{shownName}: hidden_act '{activation}' is not supported (Qwen3 uses silu).");
        }

        if (root.TryGetProperty("use_sliding_window", out var sliding) && sliding.ValueKind == JsonValueKind.True)
        {
            throw new NotSupportedException($"{shownName}: sliding-window attention is not supported.");
        }

        int Required(string name) =>
            root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number)
                ? number
                : throw new FormatException($"{shownName}: \"{name}\" is missing or not an integer.");

        var hidden = Required("hidden_size");
        var heads = Required("num_attention_heads");
        var headDim = root.TryGetProperty("head_dim", out var headDimElement) && headDimElement.ValueKind == JsonValueKind.Number
            ? headDimElement.GetInt32()
            : hidden / heads;
        var kvHeads = root.TryGetProperty("num_key_value_heads", out var kv) && kv.ValueKind == JsonValueKind.Number ? kv.GetInt32() : heads;
        var eps = root.TryGetProperty("rms_norm_eps", out var epsElement) && epsElement.ValueKind == JsonValueKind.Number
            ? (float)epsElement.GetDouble()
            : 1e-6f;
        var theta = root.TryGetProperty("rope_theta", out var thetaElement) && thetaElement.ValueKind == JsonValueKind.Number
            ? thetaElement.GetDouble()
            : 1e6;
        var tied = !root.TryGetProperty("tie_word_embeddings", out var tieElement) || tieElement.ValueKind != JsonValueKind.False;

        return new Qwen3Config(
            hidden,
            Required("intermediate_size"),
            Required("num_hidden_layers"),
            heads,
            kvHeads,
            headDim,
            Required("vocab_size"),
            eps,
            theta,
            tied).Validate();
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"Qwen3(hidden {HiddenSize}, intermediate {IntermediateSize}, {LayerCount} layers, {HeadCount}/{KeyValueHeadCount} heads × {HeadDim}, vocab {VocabularySize}, eps {RmsNormEpsilon}, theta {RopeTheta}, tied {TieWordEmbeddings})");
}
