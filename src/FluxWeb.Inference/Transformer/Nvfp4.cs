using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Transformer;

/// <summary>
/// NVFP4 weights (the official <c>-nvfp4</c> checkpoints): each byte packs two FP4 E2M1 values (low
/// nibble = even input index), every 16 inputs share an FP8 E4M3 scale, and a float32
/// <c>weight_scale_2</c> scales the whole tensor: W = e2m1 · scale_block · scale_2. The graph keeps
/// the packed bytes in memory and unpacks them at run time behind a DequantizeLinear, which ONNX
/// Runtime does not constant-fold, so the 4-bit weights really load in ~¼ of the bf16 memory.
/// </summary>
public static class Nvfp4
{
    public const int BlockSize = 16;

    /// <summary>The eight non-negative E2M1 magnitudes; codes 8–15 are their negatives.</summary>
    public static readonly float[] E2M1 = [0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f, -0f, -0.5f, -1f, -1.5f, -2f, -3f, -4f, -6f];

    public static string Dequantize(OnnxGraphBuilder g, WeightSet weights, string name, string blockScale, string globalScale, long[] shape)
    {
        var (outputs, inputs) = (shape[0], shape[1]);
        var packedRef = weights.Get(name, outputs, inputs / 2);
        if (packedRef.Info.DType != SafeTensorDType.U8)
        {
            throw new SafeTensorsException(Path.GetFileName(packedRef.File.Path), $"is {packedRef.Info.DType}; an NVFP4 weight is U8 (two 4-bit values per byte).", name);
        }

        var scalesRef = weights.Get(blockScale, outputs, inputs / BlockSize);
        if (scalesRef.Info.DType != SafeTensorDType.F8_E4M3)
        {
            throw new SafeTensorsException(Path.GetFileName(scalesRef.File.Path), $"is {scalesRef.Info.DType}; NVFP4 block scales are F8_E4M3.", blockScale);
        }

        using var scope = g.Scope($"nvfp4.{name}");
        var one = g.Float32Constant([1f]);
        var bytes = g.Op("DequantizeLinear", [g.RawWeight(weights, name), one, g.Uint8Scalar(0)]);
        var high = g.Op("Floor", [g.Op("Mul", [bytes, g.Float32Constant([1f / 16])])]);
        var low = g.Op("Sub", [bytes, g.Op("Mul", [high, g.Float32Constant([16f])])]);
        var codes = g.Op("Concat", [g.Op("Unsqueeze", [low, g.Int64(-1)]), g.Op("Unsqueeze", [high, g.Int64(-1)])], a => a.Int("axis", -1));
        var values = g.Op("Gather", [g.Float32Constant(E2M1, 16), g.Cast(codes, DataType.Int64)], a => a.Int("axis", 0));
        var blocks = g.Op("Reshape", [values, g.Int64(outputs, inputs / BlockSize, BlockSize)]);
        var scales = g.Op("Unsqueeze", [g.Op("DequantizeLinear", [g.RawWeight(weights, blockScale), one]), g.Int64(-1)]);
        var scaled = g.Op("Reshape", [g.Op("Mul", [blocks, scales]), g.Int64(outputs, inputs)]);
        var full = g.Op("Mul", [scaled, g.Weight32(weights, globalScale)]);
        return g.ToCompute(full, DataType.Float);
    }
}
