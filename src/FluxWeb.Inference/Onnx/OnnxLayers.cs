using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Onnx;

/// <summary>
/// Layers shared by the graphs, written with ONNX Runtime's fused operators where they exist
/// (FusedMatMul, SimplifiedLayerNormalization, MultiHeadAttention, RotaryEmbedding): they have CPU
/// kernels for float32 and CUDA kernels for fp16/bf16, so one graph serves both devices.
/// </summary>
public static class OnnxLayers
{
    /// <summary>y = x·Wᵀ for a PyTorch Linear weight [out, in] without copying or transposing the weight.</summary>
    public static string Linear(this OnnxGraphBuilder g, string x, string weight) =>
        g.Op("FusedMatMul", [x, weight], a => a.Int("transB", 1).Float("alpha", 1f), OnnxGraphBuilder.MicrosoftDomain);

    public static string LinearWithBias(this OnnxGraphBuilder g, string x, string weight, string bias) =>
        g.Op("Add", [g.Linear(x, weight), bias]);

    public static string SiLU(this OnnxGraphBuilder g, string x) => g.Op("Mul", [x, g.Op("Sigmoid", [x])]);

    /// <summary>RMSNorm over the last axis: w · x / sqrt(mean(x²) + eps), computed in float32 inside the kernel.</summary>
    public static string RmsNorm(this OnnxGraphBuilder g, string x, string scale, float epsilon) =>
        g.Op("SimplifiedLayerNormalization", [x, scale], a => a.Int("axis", -1).Float("epsilon", epsilon).Int("stash_type", 1));

    /// <summary>LayerNorm over the last axis without learned affine parameters.</summary>
    public static string LayerNormNoAffine(this OnnxGraphBuilder g, string x, int width, float epsilon) =>
        g.Op("LayerNormalization", [x, g.Constant(Enumerable.Repeat(1f, width).ToArray(), width)], a => a.Int("axis", -1).Float("epsilon", epsilon).Int("stash_type", 1));

    /// <summary>x·(1 + scale) + shift, the modulation of adaptive LayerNorm.</summary>
    public static string Modulate(this OnnxGraphBuilder g, string normalized, string shift, string scale) =>
        g.Op("Add", [g.Op("Mul", [normalized, g.Op("Add", [scale, g.Scalar(1f)])]), shift]);

    /// <summary>Splits the last axis into <paramref name="parts"/> equal chunks.</summary>
    public static string[] SplitLast(this OnnxGraphBuilder g, string x, int parts) =>
        g.Ops("Split", [x], parts, a => a.Int("axis", -1).Int("num_outputs", parts));

    /// <summary>Splits the last axis into chunks of the given widths.</summary>
    public static string[] SplitLast(this OnnxGraphBuilder g, string x, params long[] widths) =>
        g.Ops("Split", [x, g.Int64(widths)], widths.Length, a => a.Int("axis", -1));

    /// <summary>[B, S, heads·D] → [B, S, heads, D] and back; 0 keeps the input's dimension.</summary>
    public static string SplitHeads(this OnnxGraphBuilder g, string x, int heads, int headDim) =>
        g.Op("Reshape", [x, g.Int64(0, 0, heads, headDim)]);

    public static string MergeHeads(this OnnxGraphBuilder g, string x, int width) =>
        g.Op("Reshape", [x, g.Int64(0, 0, width)]);

    /// <summary>Per-head RMSNorm of [B, S, heads·D] activations (QK-norm).</summary>
    public static string HeadRmsNorm(this OnnxGraphBuilder g, string x, string scale, int heads, int headDim, float epsilon) =>
        g.MergeHeads(g.RmsNorm(g.SplitHeads(x, heads, headDim), scale, epsilon), heads * headDim);

    /// <summary>
    /// Rotary embedding of [B, S, heads·D] with per-token tables cos/sin [S, D/2]: positions are simply
    /// 0..S-1 into the tables, so any position scheme (FLUX's 4 axes, Qwen's 1-D) is expressed by the tables.
    /// </summary>
    public static string Rotary(this OnnxGraphBuilder g, string x, string cos, string sin, int heads, bool interleaved) =>
        g.Op("RotaryEmbedding", [x, g.Int64(0), cos, sin], a => a.Int("interleaved", interleaved ? 1 : 0).Int("num_heads", heads), OnnxGraphBuilder.MicrosoftDomain);

    /// <summary>Full (unmasked) attention over [B, S, heads·D] queries, keys and values; scale 1/sqrt(D).</summary>
    public static string Attention(this OnnxGraphBuilder g, string q, string k, string v, int heads) =>
        g.Op("MultiHeadAttention", [q, k, v], a => a.Int("num_heads", heads), OnnxGraphBuilder.MicrosoftDomain);

    /// <summary>Attention with an additive bias [B or 1, heads or 1, S, T] (masks: 0 allowed, a very negative value blocked).</summary>
    public static string Attention(this OnnxGraphBuilder g, string q, string k, string v, int heads, string attentionBias) =>
        g.Op("MultiHeadAttention", [q, k, v, "", "", attentionBias], a => a.Int("num_heads", heads), OnnxGraphBuilder.MicrosoftDomain);

    /// <summary>Dimension <paramref name="axis"/> of x as a 1-element int64 tensor (for dynamic shapes).</summary>
    public static string Dim(this OnnxGraphBuilder g, string x, int axis) =>
        g.Op("Shape", [x], a => a.Int("start", axis).Int("end", axis + 1));

    public static string Float32Input(this OnnxGraphBuilder g, string name, params object[] dims) =>
        g.ToCompute(g.Input(name, DataType.Float, dims), DataType.Float);
}
