using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace FluxWeb.Inference.SafeTensors;

/// <summary>Element conversions between the storage types of checkpoints and float32.</summary>
public static class TensorConversion
{
    public static float[] ToFloat32(ReadOnlySpan<byte> bytes, SafeTensorDType dtype, string file = "", string tensor = "")
    {
        switch (dtype)
        {
            case SafeTensorDType.F32:
                return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
            case SafeTensorDType.F64:
                return MemoryMarshal.Cast<byte, double>(bytes).ToArray().Select(d => (float)d).ToArray();
            case SafeTensorDType.F16:
                return MemoryMarshal.Cast<byte, Half>(bytes).ToArray().Select(h => (float)h).ToArray();
            case SafeTensorDType.BF16:
            {
                var result = new float[bytes.Length / 2];
                for (var i = 0; i < result.Length; i++)
                {
                    result[i] = BFloat16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]));
                }

                return result;
            }

            case SafeTensorDType.F8_E4M3:
            {
                var result = new float[bytes.Length];
                for (var i = 0; i < result.Length; i++)
                {
                    result[i] = Float8E4M3FnToFloat(bytes[i]);
                }

                return result;
            }

            default:
                throw new SafeTensorsException(file, $"is {dtype}, which is not a floating-point type this reader converts.", tensor);
        }
    }

    public static float BFloat16ToFloat(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>Round-to-nearest-even, as torch does when casting float32 to bfloat16.</summary>
    public static ushort FloatToBFloat16(float value)
    {
        var bits = (uint)BitConverter.SingleToInt32Bits(value);
        if (float.IsNaN(value))
        {
            return 0x7FC0;
        }

        var rounding = 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>FLOAT8E4M3FN (no infinities, one NaN pattern per sign): 1 sign, 4 exponent (bias 7), 3 mantissa bits.</summary>
    public static float Float8E4M3FnToFloat(byte value)
    {
        var sign = (value & 0x80) != 0 ? -1f : 1f;
        var exponent = (value >> 3) & 0xF;
        var mantissa = value & 0x7;
        if (exponent == 0xF && mantissa == 0x7)
        {
            return float.NaN;
        }

        return exponent == 0
            ? sign * mantissa / 8f * MathF.Pow(2, -6)
            : sign * (1 + mantissa / 8f) * MathF.Pow(2, exponent - 7);
    }

    /// <summary>Nearest FLOAT8E4M3FN value, saturating at ±448 (what torch's float8_e4m3fn cast does for finite input).</summary>
    public static byte FloatToFloat8E4M3Fn(float value)
    {
        if (float.IsNaN(value))
        {
            return 0x7F;
        }

        byte best = 0;
        var bestError = float.MaxValue;
        var sign = value < 0 ? (byte)0x80 : (byte)0;
        var magnitude = Math.Min(MathF.Abs(value), 448f);
        for (var code = 0; code < 0x7F; code++)
        {
            var error = MathF.Abs(Float8E4M3FnToFloat((byte)code) - magnitude);
            if (error < bestError || (error == bestError && (code & 1) == 0))
            {
                bestError = error;
                best = (byte)code;
            }
        }

        return (byte)(best | sign);
    }
}
