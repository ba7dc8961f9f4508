namespace FluxWeb.Inference.Pipeline;

/// <summary>
/// The klein sampling loop, shared by every mode: Euler steps over the schedule from
/// <c>start</c>; in a masked edit, after each step the unmasked area is reset to the source noised
/// to the next sigma (the clean source after the last step).
/// </summary>
public static class Sampler
{
    /// <param name="latents">Image tokens, updated in place.</param>
    /// <param name="sigmas">The schedule, N+1 values ending in 0.</param>
    /// <param name="start">First step (0, or later for a masked edit with strength below 1).</param>
    /// <param name="velocity">The model: (step, sigma) → velocity for at least the image tokens.</param>
    /// <param name="inpainting">Noise, clean source tokens and the per-token mask of a masked edit.</param>
    /// <param name="afterStep">Called with the finished step and the velocity it used.</param>
    public static void Run(
        float[] latents,
        float[] sigmas,
        int start,
        Func<int, float, float[]> velocity,
        (float[] Noise, float[] Clean, float[] Mask)? inpainting = null,
        Action<int, float[]>? afterStep = null,
        CancellationToken cancellationToken = default)
    {
        var steps = sigmas.Length - 1;
        for (var step = start; step < steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var v = velocity(step, sigmas[step]);
            afterStep?.Invoke(step, v);
            FlowMatchEuler.Step(latents, v, sigmas[step], sigmas[step + 1]);
            if (inpainting is { } edit)
            {
                BlendOutsideMask(latents, edit.Noise, edit.Clean, edit.Mask, sigmas[step + 1]);
            }
        }
    }

    /// <summary>Start of a masked edit: the source noised to the first sigma of the trimmed schedule.</summary>
    public static void Renoise(float[] latents, float[] noise, float[] clean, float sigma)
    {
        for (var i = 0; i < latents.Length; i++)
        {
            latents[i] = sigma * noise[i] + (1 - sigma) * clean[i];
        }
    }

    /// <summary>latents = (1 − m)·[σ·noise + (1 − σ)·clean] + m·latents, per token.</summary>
    public static void BlendOutsideMask(float[] latents, float[] noise, float[] clean, float[] mask, float sigmaNext)
    {
        for (var t = 0; t < mask.Length; t++)
        {
            var m = mask[t];
            for (var c = 0; c < LatentLayout.Channels; c++)
            {
                var i = t * LatentLayout.Channels + c;
                var kept = sigmaNext * noise[i] + (1 - sigmaNext) * clean[i];
                latents[i] = (1 - m) * kept + m * latents[i];
            }
        }
    }
}
