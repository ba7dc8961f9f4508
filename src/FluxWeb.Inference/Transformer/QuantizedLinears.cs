using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Transformer;

/// <summary>How a checkpoint stores one linear layer's weight.</summary>
public enum LinearStorage
{
    /// <summary>bf16, fp16 or fp32: bound directly (cast to the compute type when it differs).</summary>
    Plain,

    /// <summary>FLOAT8E4M3 with a per-tensor float32 <c>weight_scale</c> (BFL's -fp8 files).</summary>
    Fp8,

    /// <summary>NVFP4: two E2M1 values per byte (low nibble first), an FP8 E4M3 scale per 16 inputs, a global <c>weight_scale_2</c>.</summary>
    Nvfp4,
}

/// <summary>
/// Linear layers over quantized weights, written so the weights stay quantized in memory and only
/// one layer's dequantised copy exists at a time.
///
/// The portable form dequantises with plain ONNX (FP8: DequantizeLinear; NVFP4: one
/// GatherBlockQuantized over all rows) right before the matmul. ONNX Runtime runs nodes whose
/// inputs are all initializers as early as it likes, so without help every dequantise runs at the
/// start of the graph and all dequantised weights are alive at once (≈5.9 GiB for 4B FP8). Each
/// dequantise therefore takes a zero-cost dependency on the layer's own input: the weight (or the
/// row indices) goes through a Reshape whose target shape adds 0·(batch size), so it can only run
/// once that input exists. On CUDA the engine replaces the whole pattern by ONNX Runtime's fused
/// MatMulBlockQuantizedFp8Weight / MatMulBlockQuantizedFp4Weight (see <see cref="QuantizedLinearRewriter"/>).
/// </summary>
public static class QuantizedLinears
{
    /// <summary>Node-name marker of the reshape that ties a dequantise to its layer's input (the rewriter looks for it).</summary>
    public const string JustInTimeMarker = "dequantise_when_needed";

    public static string WeightScaleName(string weightName) => Layer(weightName) + ".weight_scale";

    public static string GlobalScaleName(string weightName) => Layer(weightName) + ".weight_scale_2";

    public static LinearStorage Storage(WeightSet weights, string weightName)
    {
        if (weights.Contains(GlobalScaleName(weightName)))
        {
            return LinearStorage.Nvfp4;
        }

        return weights.Get(weightName).Info.DType is SafeTensorDType.F8_E4M3 ? LinearStorage.Fp8 : LinearStorage.Plain;
    }

    /// <summary>y = x·Wᵀ for the quantized weight <paramref name="weightName"/> of shape [outputs, inputs].</summary>
    public static string Linear(OnnxGraphBuilder g, WeightSet weights, string x, string weightName, long outputs, long inputs)
    {
        var storage = Storage(weights, weightName);
        using var scope = g.Scope($"{storage.ToString().ToLowerInvariant()}:{weightName}");
        var dequantised = storage switch
        {
            LinearStorage.Fp8 => DequantiseFp8(g, weights, x, weightName, outputs, inputs),
            LinearStorage.Nvfp4 => DequantiseNvfp4(g, weights, x, weightName, outputs, inputs),
            _ => throw new ArgumentException($"{weightName} is not stored quantized.", nameof(weightName)),
        };
        return g.Linear(x, dequantised);
    }

    private static string DequantiseFp8(OnnxGraphBuilder g, WeightSet weights, string x, string weightName, long outputs, long inputs)
    {
        var weight = weights.Get(weightName, outputs, inputs);
        var scaleName = WeightScaleName(weightName);
        if (!weights.Contains(scaleName) || weights.Get(scaleName).Info.Shape.Length != 0)
        {
            throw new SafeTensorsException(Path.GetFileName(weight.File.Path), $"is FP8 but has no per-tensor (scalar) {scaleName}.", weightName);
        }

        var raw = JustInTime(g, g.RawWeight(weights, weightName), x, outputs, inputs);
        var scale = g.Weight32(weights, scaleName);
        // ONNX Runtime's CUDA DequantizeLinear for FP8 outputs float32 or fp16 (not bf16): fp16 graphs skip the float32 copy.
        if (g.Precision == ComputePrecision.Float16)
        {
            return g.Op("DequantizeLinear", [raw, g.Cast(scale, DataType.Float16)]);
        }

        return g.ToCompute(g.Op("DequantizeLinear", [raw, scale]), DataType.Float);
    }

    private static string DequantiseNvfp4(OnnxGraphBuilder g, WeightSet weights, string x, string weightName, long outputs, long inputs)
    {
        var packed = weights.Get(weightName, outputs, inputs / 2);
        if (packed.Info.DType != SafeTensorDType.U8)
        {
            throw new SafeTensorsException(Path.GetFileName(packed.File.Path), $"is {packed.Info.DType}; an NVFP4 weight is U8 (two 4-bit values per byte).", weightName);
        }

        if (inputs % Nvfp4.BlockSize != 0)
        {
            throw new SafeTensorsException(Path.GetFileName(packed.File.Path), $"has {inputs} inputs, not a multiple of the NVFP4 block of {Nvfp4.BlockSize}.", weightName);
        }

        var blockScaleName = WeightScaleName(weightName);
        var blockScales = weights.Get(blockScaleName, outputs, inputs / Nvfp4.BlockSize);
        if (blockScales.Info.DType != SafeTensorDType.F8_E4M3)
        {
            throw new SafeTensorsException(Path.GetFileName(blockScales.File.Path), $"is {blockScales.Info.DType}; NVFP4 block scales are F8_E4M3.", blockScaleName);
        }

        if (Nvfp4.IsComfyLayout(blockScales.File))
        {
            throw new SafeTensorsException(Path.GetFileName(blockScales.File.Path), "stores NVFP4 in ComfyUI's tiled layout; `fluxweb models build` converts it to the row-major layout these graphs read.", blockScaleName);
        }

        // The packed bytes are ONNX FLOAT4E2M1 [outputs, inputs] (first value in the low nibble), the scales FLOAT8E4M3FN.
        var codes = g.RawWeight(weights, weightName, DataType.Float4E2M1, outputs, inputs);
        var scales = g.Op("Mul", [g.Op("DequantizeLinear", [g.RawWeight(weights, blockScaleName, DataType.Float8E4M3Fn, outputs, inputs / Nvfp4.BlockSize), g.Float32Constant([1f])]), g.Weight32(weights, GlobalScaleName(weightName))]);
        var rows = JustInTime(g, g.Int64(Enumerable.Range(0, checked((int)outputs)).Select(i => (long)i).ToArray()), x, outputs);
        return g.Op(
            "GatherBlockQuantized",
            [codes, rows, g.Precision == ComputePrecision.Float32 ? scales : g.Cast(scales, g.ComputeType)],
            a => a.Int("gather_axis", 0).Int("quantize_axis", 1).Int("block_size", Nvfp4.BlockSize),
            OnnxGraphBuilder.MicrosoftDomain);
    }

    /// <summary><paramref name="value"/> unchanged (a Reshape to its own shape, which ONNX Runtime does without a copy), available only once <paramref name="activation"/> is.</summary>
    private static string JustInTime(OnnxGraphBuilder g, string value, string activation, params long[] dims)
    {
        using var scope = g.Scope(JustInTimeMarker);
        var zero = g.Op("Mul", [g.Dim(activation, 0), g.Int64Scalar(0)]);
        var shape = g.Op("Add", [g.Int64(dims), zero]);
        return g.Op("Reshape", [value, shape]);
    }

    private static string Layer(string weightName) =>
        weightName.EndsWith(".weight", StringComparison.Ordinal) ? weightName[..^".weight".Length] : weightName;
}
