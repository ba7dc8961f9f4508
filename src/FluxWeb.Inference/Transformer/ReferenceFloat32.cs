namespace FluxWeb.Inference.Transformer;

/// <summary>
/// Float32 maths exactly as PyTorch's CPU kernels round it, where the reference depends on it.
/// The timestep embedding multiplies frequencies by 1000·σ (up to 1000 rad), so a one-ulp
/// difference in a frequency moves cos/sin by ~4e-5: enough to fail the oracle's tolerance.
/// </summary>
internal static class ReferenceFloat32
{
    /// <summary>PyTorch's vectorised float32 exp (SLEEF expf_u10): Cody-Waite reduction by ln 2, degree-6 polynomial, FMA.</summary>
    public static float Exp(float d)
    {
        if (d < -104f)
        {
            return 0f;
        }

        if (d > 100f)
        {
            return float.PositiveInfinity;
        }

        var q = (int)MathF.Round(d * 1.442695040888963407359924681001892137426645954152985934135449406931f, MidpointRounding.ToEven);
        var s = MathF.FusedMultiplyAdd(q, -0.693145751953125f, d);
        s = MathF.FusedMultiplyAdd(q, -1.428606765330187045e-06f, s);
        var u = 0.000198527617612853646278381f;
        u = MathF.FusedMultiplyAdd(u, s, 0.00139304355252534151077271f);
        u = MathF.FusedMultiplyAdd(u, s, 0.00833336077630519866943359f);
        u = MathF.FusedMultiplyAdd(u, s, 0.0416664853692054748535156f);
        u = MathF.FusedMultiplyAdd(u, s, 0.166666671633720397949219f);
        u = MathF.FusedMultiplyAdd(u, s, 0.5f);
        u = 1.0f + MathF.FusedMultiplyAdd(s * s, u, s);
        return MathF.ScaleB(u, q);
    }

    /// <summary>The sinusoidal-embedding frequencies exp(−ln(max_period)·i/half) as the reference computes them in float32.</summary>
    public static float[] TimestepFrequencies(int half, float maxPeriod = 10000f) =>
        Enumerable.Range(0, half).Select(i => Exp(-MathF.Log(maxPeriod) * i / half)).ToArray();
}
