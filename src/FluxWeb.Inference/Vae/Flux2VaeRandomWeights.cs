using System.Globalization;
using System.Text;
using FluxWeb.Inference.SafeTensors;

namespace FluxWeb.Inference.Vae;

/// <summary>
/// Writes a FLUX.2 VAE checkpoint of random weights for any configuration: the demo package and
/// tests run real graphs on it without the 336 MB official file. Every tensor is drawn from its own
/// stream, keyed by the seed and its diffusers name, so the same seed gives the same bytes on any
/// machine and the BFL and diffusers files of one seed hold the same values.
/// </summary>
public static class Flux2VaeRandomWeights
{
    /// <summary>
    /// Writes the checkpoint. Statistics keep activations of order one through any depth: conv and
    /// linear weights N(0, 1/fan_in), biases N(0, 0.02²), GroupNorm scales U(0.9, 1.1) and shifts
    /// N(0, 0.05²), BatchNorm running means N(0, 0.1²) and running variances U(0.5, 1.5).
    /// </summary>
    public static void Write(string path, Flux2VaeConfig config, ulong seed, Flux2VaeNaming naming = Flux2VaeNaming.Diffusers)
    {
        var writer = new SafeTensorsWriter();
        foreach (var tensor in new Flux2VaeWeightNames(naming, config).ExpectedTensors())
        {
            writer.AddFloat32(tensor.Name, tensor.Shape, Values(tensor, seed));
        }

        writer.Write(path, new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["fluxweb.generator"] = "seeded random FLUX.2 VAE",
            ["fluxweb.seed"] = seed.ToString(CultureInfo.InvariantCulture),
            ["fluxweb.config"] = config.ToString(),
        });
    }

    internal static float[] Values(Flux2VaeTensor tensor, ulong seed)
    {
        var random = new SplitMix64(seed ^ Fnv1a(tensor.CanonicalName));
        var values = new float[tensor.ElementCount];
        var fanIn = tensor.Shape.Length > 1 ? tensor.Shape.Skip(1).Aggregate(1L, (a, b) => a * b) : 1;
        var weightScale = 1.0 / Math.Sqrt(fanIn);
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = tensor.Kind switch
            {
                Flux2VaeTensorKind.ConvWeight or Flux2VaeTensorKind.LinearWeight => (float)(random.NextStandardNormal() * weightScale),
                Flux2VaeTensorKind.Bias => (float)(random.NextStandardNormal() * 0.02),
                Flux2VaeTensorKind.GroupNormScale => (float)(0.9 + 0.2 * random.NextUnit()),
                Flux2VaeTensorKind.GroupNormShift => (float)(random.NextStandardNormal() * 0.05),
                Flux2VaeTensorKind.RunningMean => (float)(random.NextStandardNormal() * 0.1),
                Flux2VaeTensorKind.RunningVariance => (float)(0.5 + random.NextUnit()),
                _ => throw new ArgumentOutOfRangeException(nameof(tensor), tensor.Kind, "unknown tensor kind"),
            };
        }

        return values;
    }

    private static ulong Fnv1a(string text)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }

    /// <summary>
    /// SplitMix64 with normals from the Irwin–Hall sum of four uniforms: only exact integer
    /// arithmetic and IEEE additions, so no libm function can make two platforms disagree.
    /// </summary>
    private struct SplitMix64(ulong state)
    {
        private const double Sqrt3 = 1.7320508075688772;

        private ulong state = state;

        public ulong Next()
        {
            var z = state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
        public double NextUnit() => (Next() >> 11) * (1.0 / (1UL << 53));

        /// <summary>Mean 0, variance 1, bounded by ±2√3.</summary>
        public double NextStandardNormal() => (NextUnit() + NextUnit() + NextUnit() + NextUnit() - 2.0) * Sqrt3;
    }
}
