namespace FluxWeb.Inference.SafeTensors;

/// <summary>One tensor of a safetensors file. Offsets are absolute positions in the file.</summary>
public sealed record SafeTensorInfo(string Name, SafeTensorDType DType, long[] Shape, long Offset, long Length)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    public string ShapeText => $"[{string.Join(",", Shape)}]";
}
