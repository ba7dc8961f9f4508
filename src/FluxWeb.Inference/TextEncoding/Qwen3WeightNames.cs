namespace FluxWeb.Inference.TextEncoding;

/// <summary>
/// The tensor names of a transformers <c>Qwen3ForCausalLM</c> checkpoint, and their shapes for a
/// config, in state-dict order (the order the random-weight writer uses, as torch does).
/// </summary>
public static class Qwen3WeightNames
{
    public const string Embedding = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string LanguageModelHead = "lm_head.weight";
    public const string LayerPrefix = "model.layers.";

    public static Qwen3LayerWeightNames Layer(int index) => new(index);

    /// <summary>Every tensor a checkpoint of this config holds, with its shape; lm_head only when not tied.</summary>
    public static IEnumerable<(string Name, long[] Shape)> All(Qwen3Config config)
    {
        yield return (Embedding, [config.VocabularySize, config.HiddenSize]);
        for (var i = 0; i < config.LayerCount; i++)
        {
            foreach (var tensor in Layer(i).WithShapes(config))
            {
                yield return tensor;
            }
        }

        yield return (FinalNorm, [config.HiddenSize]);
        if (!config.TieWordEmbeddings)
        {
            yield return (LanguageModelHead, [config.VocabularySize, config.HiddenSize]);
        }
    }

    /// <summary>The layer index a name belongs to (<c>model.layers.N.…</c>), or null for the tensors outside the layers.</summary>
    public static int? LayerIndexOf(string name)
    {
        if (!name.StartsWith(LayerPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        var rest = name.AsSpan(LayerPrefix.Length);
        var dot = rest.IndexOf('.');
        return dot > 0 && int.TryParse(rest[..dot], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index) ? index : null;
    }
}

/// <summary>The tensor names of decoder layer <see cref="Index"/>.</summary>
public readonly record struct Qwen3LayerWeightNames(int Index)
{
    private string Prefix => $"{Qwen3WeightNames.LayerPrefix}{Index}.";

    public string QueryProjection => Prefix + "self_attn.q_proj.weight";

    public string KeyProjection => Prefix + "self_attn.k_proj.weight";

    public string ValueProjection => Prefix + "self_attn.v_proj.weight";

    public string OutputProjection => Prefix + "self_attn.o_proj.weight";

    public string QueryNorm => Prefix + "self_attn.q_norm.weight";

    public string KeyNorm => Prefix + "self_attn.k_norm.weight";

    public string GateProjection => Prefix + "mlp.gate_proj.weight";

    public string UpProjection => Prefix + "mlp.up_proj.weight";

    public string DownProjection => Prefix + "mlp.down_proj.weight";

    public string InputNorm => Prefix + "input_layernorm.weight";

    public string PostAttentionNorm => Prefix + "post_attention_layernorm.weight";

    /// <summary>The layer's tensors in state-dict order (attention, MLP, then the two norms).</summary>
    public IEnumerable<(string Name, long[] Shape)> WithShapes(Qwen3Config config)
    {
        long hidden = config.HiddenSize, intermediate = config.IntermediateSize;
        yield return (QueryProjection, [config.QueryWidth, hidden]);
        yield return (KeyProjection, [config.KeyValueWidth, hidden]);
        yield return (ValueProjection, [config.KeyValueWidth, hidden]);
        yield return (OutputProjection, [hidden, config.QueryWidth]);
        yield return (QueryNorm, [config.HeadDim]);
        yield return (KeyNorm, [config.HeadDim]);
        yield return (GateProjection, [intermediate, hidden]);
        yield return (UpProjection, [intermediate, hidden]);
        yield return (DownProjection, [hidden, intermediate]);
        yield return (InputNorm, [hidden]);
        yield return (PostAttentionNorm, [hidden]);
    }
}
