namespace FluxWeb.Inference.Pipeline;

/// <summary>One Euler step of the flow-matching ODE: x ← x + (σ_next − σ)·v.</summary>
public static class FlowMatchEuler
{
    /// <summary>
    /// Updates the first <c>latents.Length</c> values; the velocity may be longer (reference tokens
    /// follow the image tokens in the transformer output and are ignored). The step is taken as the
    /// reference does: the difference in float64, rounded once, then a float32 multiply and add.
    /// </summary>
    public static void Step(Span<float> latents, ReadOnlySpan<float> velocity, float sigma, float sigmaNext)
    {
        var dt = (float)((double)sigmaNext - sigma);
        for (var i = 0; i < latents.Length; i++)
        {
            latents[i] += dt * velocity[i];
        }
    }

    /// <summary>Classifier-free guidance: v = v_uncond + g·(v_cond − v_uncond).</summary>
    public static void Guide(Span<float> conditional, ReadOnlySpan<float> unconditional, float guidance)
    {
        for (var i = 0; i < conditional.Length; i++)
        {
            conditional[i] = unconditional[i] + guidance * (conditional[i] - unconditional[i]);
        }
    }
}
