using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Onnx;

/// <summary>The element type a graph computes in; inputs and outputs stay float32 so callers never care.</summary>
public enum ComputePrecision
{
    /// <summary>CPU and tests: matches the reference code to float32 rounding.</summary>
    Float32,

    /// <summary>GPU: half the memory of float32; needs care with large activations.</summary>
    Float16,

    /// <summary>GPU: the precision klein was trained and released in.</summary>
    BFloat16,
}

public static class ComputePrecisions
{
    public static DataType ToDataType(this ComputePrecision precision) => precision switch
    {
        ComputePrecision.Float16 => DataType.Float16,
        ComputePrecision.BFloat16 => DataType.Bfloat16,
        _ => DataType.Float,
    };

    public static string ManifestName(this ComputePrecision precision) => precision switch
    {
        ComputePrecision.Float16 => "fp16",
        ComputePrecision.BFloat16 => "bf16",
        _ => "fp32",
    };

    public static bool TryParse(string text, out ComputePrecision precision)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "fp32" or "float32" or "f32":
                precision = ComputePrecision.Float32;
                return true;
            case "fp16" or "float16" or "f16":
                precision = ComputePrecision.Float16;
                return true;
            case "bf16" or "bfloat16":
                precision = ComputePrecision.BFloat16;
                return true;
            default:
                precision = default;
                return false;
        }
    }
}
