using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FluxWeb.Inference.Tests.Pipeline;

/// <summary>
/// The sampler step graph the engine runs on every device is the sampling maths of
/// <see cref="FlowMatchEuler"/>, <see cref="Sampler"/> and <see cref="LatentPreview"/>, bit for bit:
/// guidance, the Euler update, the masked-edit blend, the next timestep and step, and reference
/// tokens passed through untouched.
/// </summary>
public sealed class SamplerStepGraphTests
{
    [Theory]
    [InlineData(false, false, 0)]
    [InlineData(true, false, 1)]
    [InlineData(false, true, 2)]
    [InlineData(true, true, 3)]
    public void One_step_on_the_graph_equals_the_specified_maths_bit_for_bit(bool guided, bool inpaint, int step)
    {
        const int imageTokens = 12;
        const int referenceTokens = 5;
        const int tokens = imageTokens + referenceTokens;
        var batch = guided ? 2 : 1;
        var sigmas = KleinSchedule.Sigmas(imageTokens, 4);
        var latents = OnnxTestRunner.Random(imageTokens * 128, 1);
        var referenceValues = OnnxTestRunner.Random(referenceTokens * 128, 2);
        var hidden = new float[batch * tokens * 128];
        for (var b = 0; b < batch; b++)
        {
            latents.CopyTo(hidden, b * tokens * 128);
            referenceValues.CopyTo(hidden, (b * tokens + imageTokens) * 128);
        }

        var velocity = OnnxTestRunner.Random(batch * tokens * 128, 3);
        var noise = OnnxTestRunner.Random(imageTokens * 128, 4);
        var clean = OnnxTestRunner.Random(imageTokens * 128, 5);
        var mask = Enumerable.Range(0, imageTokens).Select(t => (float)(t % 3) / 2f).ToArray();
        var projection = new LatentPreviewInfo { Factors = OnnxTestRunner.Random(96, 6), Bias = [0.1f, -0.2f, 0.3f] };
        const float guidance = 3.5f;

        // The specification, in C#.
        var v = velocity.AsSpan(0, imageTokens * 128).ToArray();
        if (guided)
        {
            FlowMatchEuler.Guide(v, velocity.AsSpan(tokens * 128, imageTokens * 128), guidance);
        }

        var expectedPreview = LatentPreview.Project(LatentPreview.PredictClean(latents, v, sigmas[step]), projection);
        var next = (float[])latents.Clone();
        FlowMatchEuler.Step(next, v, sigmas[step], sigmas[step + 1]);
        if (inpaint)
        {
            Sampler.BlendOutsideMask(next, noise, clean, mask, sigmas[step + 1]);
        }

        // The graph.
        using var session = new InferenceSession(SamplerStepGraph.Build(guided, inpaint));
        var (factors, bias) = SamplerStepGraph.PreviewProjection(projection);
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor(SamplerStepGraph.Hidden, new DenseTensor<float>(hidden, [batch, tokens, 128])),
            NamedOnnxValue.CreateFromTensor(SamplerStepGraph.Velocity, new DenseTensor<float>(velocity, [batch, tokens, 128])),
            NamedOnnxValue.CreateFromTensor(SamplerStepGraph.Step, new DenseTensor<long>(new[] { (long)step }, [1])),
            NamedOnnxValue.CreateFromTensor(SamplerStepGraph.Sigmas, new DenseTensor<float>(sigmas, [sigmas.Length])),
            NamedOnnxValue.CreateFromTensor(SamplerStepGraph.ImageTokens, new DenseTensor<long>(new[] { (long)imageTokens }, [1])),
            NamedOnnxValue.CreateFromTensor(SamplerStepGraph.PreviewFactors, new DenseTensor<float>(factors, [32, 3])),
            NamedOnnxValue.CreateFromTensor(SamplerStepGraph.PreviewBias, new DenseTensor<float>(bias, [3])),
        };
        if (guided)
        {
            inputs.Add(NamedOnnxValue.CreateFromTensor(SamplerStepGraph.Guidance, new DenseTensor<float>(new[] { guidance }, [1])));
        }

        if (inpaint)
        {
            inputs.Add(NamedOnnxValue.CreateFromTensor(SamplerStepGraph.Noise, new DenseTensor<float>(noise, [1, imageTokens, 128])));
            inputs.Add(NamedOnnxValue.CreateFromTensor(SamplerStepGraph.Clean, new DenseTensor<float>(clean, [1, imageTokens, 128])));
            inputs.Add(NamedOnnxValue.CreateFromTensor(SamplerStepGraph.Mask, new DenseTensor<float>(mask, [1, imageTokens, 1])));
        }

        using var results = session.Run(inputs);
        var outputs = results.ToDictionary(r => r.Name, r => r);

        var nextHidden = outputs[SamplerStepGraph.NextHidden].AsTensor<float>().ToArray();
        for (var b = 0; b < batch; b++)
        {
            Assert.Equal(next, nextHidden.AsSpan(b * tokens * 128, imageTokens * 128).ToArray());
            Assert.Equal(referenceValues, nextHidden.AsSpan((b * tokens + imageTokens) * 128, referenceTokens * 128).ToArray());
        }

        Assert.Equal(Enumerable.Repeat(sigmas[step + 1], batch), outputs[SamplerStepGraph.NextTimestep].AsTensor<float>().ToArray());
        Assert.Equal([step + 1L], outputs[SamplerStepGraph.NextStep].AsTensor<long>().ToArray());
        var preview = outputs[SamplerStepGraph.Preview].AsTensor<float>().ToArray();
        Assert.Equal(expectedPreview.Length, preview.Length);
        Assert.True(expectedPreview.Zip(preview, (a, c) => Math.Abs(a - c)).Max() < 1e-5f, "the preview projection differs");
    }

    [Fact]
    public void Without_a_fitted_map_the_graph_previews_the_first_channel_in_grey_like_the_host()
    {
        var tokens = OnnxTestRunner.Random(6 * 128, 7);
        var (factors, bias) = SamplerStepGraph.PreviewProjection(null);

        var projected = new float[6 * 12];
        for (var t = 0; t < 6; t++)
        {
            for (var pixel = 0; pixel < 4; pixel++)
            {
                for (var k = 0; k < 3; k++)
                {
                    var sum = bias[k];
                    for (var c = 0; c < 32; c++)
                    {
                        sum += tokens[t * 128 + c * 4 + pixel] * factors[c * 3 + k];
                    }

                    projected[t * 12 + pixel * 3 + k] = sum;
                }
            }
        }

        Assert.Equal(LatentPreview.Project(tokens, null), projected);
        Assert.Equal(LatentPreview.Render(tokens, 2, 3, null).Rgb, LatentPreview.FromProjected(projected, 2, 3, fitted: false).Rgb);
    }
}
