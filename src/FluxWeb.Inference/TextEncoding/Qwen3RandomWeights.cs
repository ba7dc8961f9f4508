using FluxWeb.Inference.Randomness;
using FluxWeb.Inference.SafeTensors;

namespace FluxWeb.Inference.TextEncoding;

/// <summary>
/// Seeded random weights for a (small) Qwen3 config under transformers' names: the demo package and
/// the tests that need a model without downloading one. Deterministic to the byte for a seed on any
/// machine: the generator is SplitMix64 and normal samples are Irwin–Hall sums (12 uniforms − 6),
/// plain IEEE arithmetic with no libm call whose last bit could differ between platforms.
/// </summary>
/// <remarks>
/// Norm weights are U(0.9, 1.1), like the oracle fixture. Every other matrix is N(0, σ²) with
/// σ = 0.5/√fan_in: behind a pre-norm each projection then keeps its output RMS near 0.5, so a layer
/// adds O(0.3) to the residual stream and 27 layers stay O(1) instead of exploding or vanishing.
/// The embedding uses σ = 0.5/√hidden for the same reason.
/// </remarks>
public static class Qwen3RandomWeights
{
    /// <summary>The writer keeps everything in memory; this is far above a demo model and far below a real one.</summary>
    public const long MaxBytes = 1L << 30;

    public static void Write(string path, Qwen3Config config, ulong seed, SafeTensorDType dtype = SafeTensorDType.F32)
    {
        config.Validate();
        if (dtype is not (SafeTensorDType.F32 or SafeTensorDType.BF16))
        {
            throw new ArgumentException($"Random Qwen3 weights are written as F32 or BF16, not {dtype}.", nameof(dtype));
        }

        var tensors = Qwen3WeightNames.All(config).ToList();
        var bytes = tensors.Sum(t => t.Shape.Aggregate(1L, (a, b) => a * b)) * dtype.SizeInBytes();
        if (bytes > MaxBytes)
        {
            throw new ArgumentException($"{config} would be {bytes:N0} bytes of random weights; this writer is for small models (at most {MaxBytes:N0}).", nameof(config));
        }

        var random = new SplitMix64(seed);
        var writer = new SafeTensorsWriter();
        foreach (var (name, shape) in tensors)
        {
            var values = new float[checked((int)shape.Aggregate(1L, (a, b) => a * b))];
            if (shape.Length == 1)
            {
                for (var i = 0; i < values.Length; i++)
                {
                    values[i] = (float)(0.9 + 0.2 * random.NextUnit());
                }
            }
            else
            {
                var sigma = 0.5 / Math.Sqrt(shape[1]);
                for (var i = 0; i < values.Length; i++)
                {
                    values[i] = (float)(sigma * random.NextIrwinHall12());
                }
            }

            if (dtype == SafeTensorDType.BF16)
            {
                writer.AddBFloat16(name, shape, values);
            }
            else
            {
                writer.AddFloat32(name, shape, values);
            }
        }

        writer.Write(path, new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["generator"] = $"FluxWeb Qwen3RandomWeights seed {seed}",
        });
    }
}
