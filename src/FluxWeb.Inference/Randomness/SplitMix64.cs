using System.Text;

namespace FluxWeb.Inference.Randomness;

/// <summary>
/// SplitMix64: the one generator behind everything FluxWeb draws from a seed (noise, random demo
/// weights). Only integer arithmetic and IEEE additions/multiplications, so the same seed gives the
/// same numbers on every machine and build.
/// </summary>
public struct SplitMix64(ulong seed)
{
    private const double Sqrt3 = 1.7320508075688772;

    private ulong state = seed;

    public ulong Next()
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextUnit() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in (0, 1]: never 0, so its logarithm is finite.</summary>
    public double NextUnitExcludingZero() => ((Next() >> 11) + 1) * (1.0 / (1UL << 53));

    /// <summary>Approximately N(0, 1) as the Irwin–Hall sum of 12 uniforms minus 6 (|x| ≤ 6).</summary>
    public double NextIrwinHall12()
    {
        var sum = 0.0;
        for (var i = 0; i < 12; i++)
        {
            sum += NextUnit();
        }

        return sum - 6.0;
    }

    /// <summary>Mean 0, variance 1 from four uniforms (bounded by ±2√3): cheaper, for weights only.</summary>
    public double NextIrwinHall4() => (NextUnit() + NextUnit() + NextUnit() + NextUnit() - 2.0) * Sqrt3;

    /// <summary>A stream per name: FNV-1a of the name mixed into the seed, so tensors do not depend on each other's order.</summary>
    public static SplitMix64 ForName(ulong seed, string name)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(name))
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return new SplitMix64(seed ^ hash);
    }
}
