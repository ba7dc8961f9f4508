namespace FluxWeb.Inference.Pipeline;

/// <summary>
/// The klein sampling schedule: an empirical shift μ from the number of output-image tokens and
/// the step count, then σ_i = e^μ / (e^μ + (1/t_i − 1)) on t = linspace(1, 0, N+1). Computed with
/// the reference's own roundings (μ in float64, σ in float32) so a seed gives the reference's image.
/// </summary>
public static class KleinSchedule
{
    private const double A1 = 8.73809524e-05, B1 = 1.89833333;
    private const double A2 = 0.00016927, B2 = 0.45666666;

    public static double Mu(int imageTokens, int steps)
    {
        if (imageTokens > 4300)
        {
            return A2 * imageTokens + B2;
        }

        var m200 = A2 * imageTokens + B2;
        var m10 = A1 * imageTokens + B1;
        var a = (m200 - m10) / 190.0;
        var b = m200 - 200.0 * a;
        return a * steps + b;
    }

    /// <summary>N+1 sigmas from 1 down to exactly 0.</summary>
    public static float[] Sigmas(int imageTokens, int steps)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(imageTokens, 1);
        var shift = (float)Math.Exp(Mu(imageTokens, steps));
        var t = Linspace(1f, 0f, steps + 1);
        var sigmas = new float[steps + 1];
        for (var i = 0; i <= steps; i++)
        {
            // PyTorch evaluates `scalar / tensor` as reciprocal(tensor) · scalar; the roundings differ
            // from a true division, and the reference's sigmas are the ones it produced. 1/0 = +∞
            // makes the last sigma exactly 0.
            var ratio = (1f / t[i]) - 1f;
            sigmas[i] = (1f / (shift + ratio)) * shift;
        }

        return sigmas;
    }

    /// <summary>torch.linspace in float32: from the start for the first half, from the end for the second.</summary>
    internal static float[] Linspace(float start, float end, int count)
    {
        var values = new float[count];
        if (count == 1)
        {
            values[0] = start;
            return values;
        }

        var step = (end - start) / (count - 1);
        var halfway = count / 2;
        for (var i = 0; i < count; i++)
        {
            values[i] = i < halfway ? start + step * i : end - step * (count - 1 - i);
        }

        return values;
    }
}
