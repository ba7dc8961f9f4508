namespace FluxWeb.Inference.SafeTensors;

/// <summary>The element types a safetensors header may name (the strings are the header's spelling).</summary>
public enum SafeTensorDType
{
    F64,
    F32,
    F16,
    BF16,
    F8_E4M3,
    F8_E5M2,
    I64,
    I32,
    I16,
    I8,
    U8,
    BOOL,
}

public static class SafeTensorDTypes
{
    public static int SizeInBytes(this SafeTensorDType dtype) => dtype switch
    {
        SafeTensorDType.F64 or SafeTensorDType.I64 => 8,
        SafeTensorDType.F32 or SafeTensorDType.I32 => 4,
        SafeTensorDType.F16 or SafeTensorDType.BF16 or SafeTensorDType.I16 => 2,
        _ => 1,
    };

    public static bool TryParse(string text, out SafeTensorDType dtype)
    {
        // "F8_E4M3" is the header spelling; Enum.TryParse accepts it because the member has the same name.
        if (Enum.TryParse(text, ignoreCase: false, out dtype) && Enum.IsDefined(dtype))
        {
            return true;
        }

        dtype = default;
        return false;
    }

    public static string HeaderName(this SafeTensorDType dtype) => dtype.ToString();

    public static bool IsFloatingPoint(this SafeTensorDType dtype) =>
        dtype is SafeTensorDType.F64 or SafeTensorDType.F32 or SafeTensorDType.F16 or SafeTensorDType.BF16 or SafeTensorDType.F8_E4M3 or SafeTensorDType.F8_E5M2;
}
