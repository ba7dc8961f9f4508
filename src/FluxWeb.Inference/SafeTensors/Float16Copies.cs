using System.Buffers.Binary;

namespace FluxWeb.Inference.SafeTensors;

/// <summary>
/// Writes fp16 copies of checkpoint tensors, so an fp16 package stores its weights in the type it
/// computes in and ONNX Runtime casts nothing when a session loads (467 bf16 tensors took ~100 s to
/// cast at every load of a 4B fp16 package). One tensor is converted in memory at a time.
/// </summary>
public static class Float16Copies
{
    public sealed record Result(int Tensors, long Bytes, long Saturated);

    /// <summary>
    /// Converts <paramref name="names"/> (bf16, fp32 or fp64 in <paramref name="source"/>) to fp16 in
    /// <paramref name="destination"/>. Values beyond fp16's range saturate to ±65504 (counted: a
    /// checkpoint with many would need bf16 or fp32 compute instead); all-zero tensors stay holes.
    /// </summary>
    public static Result Write(WeightSet source, IEnumerable<string> names, string destination)
    {
        var writer = new SafeTensorsWriter();
        long saturated = 0;
        long bytes = 0;
        var count = 0;
        foreach (var name in names.Order(StringComparer.Ordinal))
        {
            var weight = source.Get(name);
            if (!weight.Info.DType.IsFloatingPoint() || weight.Info.DType is SafeTensorDType.F16 or SafeTensorDType.F8_E4M3 or SafeTensorDType.F8_E5M2)
            {
                throw new SafeTensorsException(Path.GetFileName(weight.File.Path), $"is {weight.Info.DType}; only bf16, fp32 and fp64 tensors are converted to fp16.", name);
            }

            writer.Add(name, SafeTensorDType.F16, weight.Info.Shape, () =>
            {
                var values = TensorConversion.ToFloat32(weight.File.ReadBytes(name), weight.Info.DType, Path.GetFileName(weight.File.Path), name);
                var half = new byte[values.Length * 2];
                for (var i = 0; i < values.Length; i++)
                {
                    var value = values[i];
                    if (float.IsFinite(value) && Math.Abs(value) > (float)Half.MaxValue)
                    {
                        saturated++;
                        value = Math.Sign(value) * (float)Half.MaxValue;
                    }

                    BinaryPrimitives.WriteHalfLittleEndian(half.AsSpan(2 * i), (Half)value);
                }

                return half;
            });
            bytes += weight.Info.ElementCount * 2;
            count++;
        }

        writer.Write(destination, new Dictionary<string, string> { ["format"] = "pt", ["fluxweb.converted"] = "fp16 copies of the checkpoint tensors the fp16 graphs compute with" });
        return new Result(count, bytes, saturated);
    }
}
