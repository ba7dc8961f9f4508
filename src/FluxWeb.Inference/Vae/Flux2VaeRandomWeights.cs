using System.Globalization;
using System.Text;
using FluxWeb.Inference.Randomness;
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
        var random = SplitMix64.ForName(seed, tensor.CanonicalName);
        var values = new float[tensor.ElementCount];
        var fanIn = tensor.Shape.Length > 1 ? tensor.Shape.Skip(1).Aggregate(1L, (a, b) => a * b) : 1;
        var weightScale = 1.0 / Math.Sqrt(fanIn);
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = tensor.Kind switch
            {
                Flux2VaeTensorKind.ConvWeight or Flux2VaeTensorKind.LinearWeight => (float)(random.NextIrwinHall4() * weightScale),
                Flux2VaeTensorKind.Bias => (float)(random.NextIrwinHall4() * 0.02),
                Flux2VaeTensorKind.GroupNormScale => (float)(0.9 + 0.2 * random.NextUnit()),
                Flux2VaeTensorKind.GroupNormShift => (float)(random.NextIrwinHall4() * 0.05),
                Flux2VaeTensorKind.RunningMean => (float)(random.NextIrwinHall4() * 0.1),
                Flux2VaeTensorKind.RunningVariance => (float)(0.5 + random.NextUnit()),
                _ => throw new ArgumentOutOfRangeException(nameof(tensor), tensor.Kind, "unknown tensor kind"),
            };
        }

        return values;
    }
}
