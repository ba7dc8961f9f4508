using FluxWeb.Inference.Pipeline;

namespace FluxWeb.Inference.Tests.Pipeline;

/// <summary>The sampling loop's masked-edit rules, with a stand-in model so the expected values are exact.</summary>
public sealed class SamplerTests
{
    [Fact]
    public void Without_composite_the_final_latents_outside_the_mask_are_the_source_latents()
    {
        const int tokens = 6;
        var clean = OnnxTestRunner.Random(tokens * LatentLayout.Channels, 1);
        var noise = OnnxTestRunner.Random(tokens * LatentLayout.Channels, 2);
        float[] mask = [0, 0, 1, 1, 0.5f, 0];
        var sigmas = KleinSchedule.Sigmas(tokens, 4);
        var start = GenerationValidator.StartStep(4, 0.75f);
        var latents = new float[clean.Length];
        Sampler.Renoise(latents, noise, clean, sigmas[start]);
        var steps = new List<int>();

        Sampler.Run(latents, sigmas, start, (step, _) =>
        {
            steps.Add(step);
            return Enumerable.Repeat(0.3f, latents.Length).ToArray();
        }, (noise, clean, mask));

        Assert.Equal([1, 2, 3], steps);
        for (var t = 0; t < tokens; t++)
        {
            for (var c = 0; c < LatentLayout.Channels; c++)
            {
                var i = t * LatentLayout.Channels + c;
                if (mask[t] == 0)
                {
                    Assert.Equal(clean[i], latents[i]);
                }
                else if (mask[t] == 1)
                {
                    Assert.NotEqual(clean[i], latents[i]);
                }
            }
        }
    }

    [Fact]
    public void Renoise_mixes_noise_and_source_by_sigma()
    {
        var latents = new float[2];

        Sampler.Renoise(latents, [1f, 3f], [5f, 7f], 0.25f);

        Assert.Equal([0.25f * 1 + 0.75f * 5, 0.25f * 3 + 0.75f * 7], latents);
    }
}
