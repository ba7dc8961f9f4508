using FluxWeb.Inference.Randomness;

namespace FluxWeb.Inference.Pipeline;

/// <summary>
/// The starting noise, N(0, 1), from a seed. The generator is ours and documented so a seed means
/// the same image on every FluxWeb build: SplitMix64 over the seed gives a stream of 64-bit words;
/// each pair (u1, u2) of 53-bit uniforms in (0, 1] becomes two normals by Box–Muller
/// (r = sqrt(−2 ln u1); r·cos 2πu2, r·sin 2πu2), computed in float64, rounded to float32, filled in
/// [C, H, W] row-major order. It does not match PyTorch's generator, and need not: klein's
/// reference states no noise convention beyond "standard normal".
/// </summary>
public static class SeededNoise
{
    public static float[] Normal(ulong seed, int count)
    {
        var values = new float[count];
        var random = new SplitMix64(seed);
        for (var i = 0; i < count; i += 2)
        {
            var u1 = random.NextUnitExcludingZero();
            var u2 = random.NextUnitExcludingZero();
            var radius = Math.Sqrt(-2.0 * Math.Log(u1));
            var angle = 2.0 * Math.PI * u2;
            values[i] = (float)(radius * Math.Cos(angle));
            if (i + 1 < count)
            {
                values[i + 1] = (float)(radius * Math.Sin(angle));
            }
        }

        return values;
    }
}
