using FluxWeb.Inference.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Vae;

/// <summary>
/// Convolutional building blocks of the FLUX.2 VAE graphs, chosen so that every node has a CUDA
/// kernel in float32, float16 and bfloat16 (ONNX Runtime 1.31's CUDA library was checked for the
/// registered types) and a CPU kernel in float32.
/// </summary>
internal static class Flux2VaeLayers
{
    /// <summary>Conv2d with a PyTorch weight [out, in, k, k]; <paramref name="pads"/> is ONNX order (top, left, bottom, right).</summary>
    public static string Conv2d(this OnnxGraphBuilder g, string x, string weight, string bias, int stride = 1, params long[] pads) =>
        g.Op("Conv", [x, weight, bias], a =>
        {
            a.Ints("strides", stride, stride);
            if (pads.Length > 0)
            {
                a.Ints("pads", pads);
            }
        });

    /// <summary>
    /// torch GroupNorm(groups, C, eps, affine) on [N, C, H, W], computed in float32 whatever the
    /// compute type: Reshape to [N, G, C/G·H·W] → InstanceNormalization (unit scale, zero bias) →
    /// Reshape back → per-channel scale and shift.
    /// Why not ONNX GroupNormalization: opset 18 takes per-group scale/bias (not what torch means),
    /// opset 21 fixed that but ONNX Runtime 1.31 has no kernel for it on either provider (the CUDA
    /// library registers only the NHWC contrib GroupNorm), so it would run as an expanded function
    /// of many small nodes. InstanceNormalization has CPU (float) and CUDA (float, fp16) kernels,
    /// no bf16 kernel anywhere, hence the float32 island; float32 statistics are also what torch's
    /// autocast does for group_norm. <paramref name="scale"/> and <paramref name="shift"/> are float32 [C].
    /// </summary>
    public static string GroupNorm(this OnnxGraphBuilder g, string x, DataType xType, string scale, string shift, int channels, int groups, float epsilon)
    {
        var x32 = xType == DataType.Float ? x : g.Cast(x, DataType.Float);
        var grouped = g.Op("Reshape", [x32, g.Int64(0, groups, -1)]);
        var ones = g.Float32Constant(Enumerable.Repeat(1f, groups).ToArray(), groups);
        var zeros = g.Float32Constant(new float[groups], groups);
        var normalized = g.Op("InstanceNormalization", [grouped, ones, zeros], a => a.Float("epsilon", epsilon));
        var restored = g.Op("Reshape", [normalized, g.Op("Shape", [x32])]);
        var perChannel = g.Int64(channels, 1, 1);
        var affine = g.Op("Add", [g.Op("Mul", [restored, g.Op("Reshape", [scale, perChannel])]), g.Op("Reshape", [shift, perChannel])]);
        return g.ToCompute(affine, DataType.Float);
    }

    /// <summary>
    /// torch <c>interpolate(scale_factor=2, mode="nearest")</c>: every pixel copied into a 2×2 block.
    /// Written as Unsqueeze → Expand → Reshape rather than Resize because Resize has no CUDA bf16
    /// kernel in ONNX Runtime 1.31, and a copy is exact by construction (no coordinate-mode
    /// rounding to get right).
    /// </summary>
    public static string UpsampleNearest2x(this OnnxGraphBuilder g, string x)
    {
        var spread = g.Op("Unsqueeze", [x, g.Int64(3, 5)]);
        var copied = g.Op("Expand", [spread, g.Int64(1, 1, 1, 2, 1, 2)]);
        var doubled = g.Op("Mul", [g.Op("Shape", [x]), g.Int64(1, 1, 2, 2)]);
        return g.Op("Reshape", [copied, doubled]);
    }

    /// <summary>einops <c>... c (i pi) (j pj) -> ... (c pi pj) i j</c> with pi = pj = 2: [N, C, 2h, 2w] → [N, 4C, h, w], channel c·4 + pi·2 + pj.</summary>
    public static string Patchify2x2(this OnnxGraphBuilder g, string x, int channels)
    {
        var (h, w) = HalfSpatial(g, x);
        var split = g.Op("Reshape", [x, g.Op("Concat", [g.Int64(0, channels), h, g.Int64(2), w, g.Int64(2)], a => a.Int("axis", 0))]);
        var blocksFirst = g.Op("Transpose", [split], a => a.Ints("perm", 0, 1, 3, 5, 2, 4));
        return g.Op("Reshape", [blocksFirst, g.Op("Concat", [g.Int64(0, 4 * channels), h, w], a => a.Int("axis", 0))]);
    }

    /// <summary>einops <c>... (c pi pj) i j -> ... c (i pi) (j pj)</c>: [N, 4C, h, w] → [N, C, 2h, 2w], the inverse of <see cref="Patchify2x2"/>.</summary>
    public static string Unpatchify2x2(this OnnxGraphBuilder g, string z, int channels)
    {
        var h = g.Dim(z, 2);
        var w = g.Dim(z, 3);
        var split = g.Op("Reshape", [z, g.Op("Concat", [g.Int64(0, channels, 2, 2), h, w], a => a.Int("axis", 0))]);
        var interleaved = g.Op("Transpose", [split], a => a.Ints("perm", 0, 1, 4, 2, 5, 3));
        var two = g.Int64(2);
        return g.Op("Reshape", [interleaved, g.Op("Concat", [g.Int64(0, channels), g.Op("Mul", [h, two]), g.Op("Mul", [w, two])], a => a.Int("axis", 0))]);
    }

    private static (string H, string W) HalfSpatial(OnnxGraphBuilder g, string x)
    {
        var two = g.Int64(2);
        return (g.Op("Div", [g.Dim(x, 2), two]), g.Op("Div", [g.Dim(x, 3), two]));
    }

    /// <summary>[N, C, H, W] → [N, H·W, C] tokens in raster order (h outer), as BFL's <c>b c h w -> b (h w) c</c>.</summary>
    public static string ToTokens(this OnnxGraphBuilder g, string x, int channels) =>
        g.Op("Transpose", [g.Op("Reshape", [x, g.Int64(0, channels, -1)])], a => a.Ints("perm", 0, 2, 1));

    /// <summary>[N, H·W, C] tokens back to the layout of <paramref name="like"/>.</summary>
    public static string FromTokens(this OnnxGraphBuilder g, string tokens, string like) =>
        g.Op("Reshape", [g.Op("Transpose", [tokens], a => a.Ints("perm", 0, 2, 1)), g.Op("Shape", [like])]);
}
