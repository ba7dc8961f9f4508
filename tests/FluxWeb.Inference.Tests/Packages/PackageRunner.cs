using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Inference.TextEncoding;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FluxWeb.Inference.Tests.Packages;

/// <summary>
/// Loads an installed package the way the pipeline will (manifest → files → role names) on ONNX
/// Runtime's CPU provider and runs every graph once: prompt → text encoder → transformer →
/// VAE decoder, and an image → VAE encoder. Checks shapes and finiteness; returns the outputs.
/// </summary>
internal static class PackageRunner
{
    public sealed record Outputs(float[] PromptEmbeds, float[] Velocity, float[] Image, float[] Latents);

    public const int LatentSide = 2;

    public static Outputs RunAll(string folder, string prompt = "a red fox in the snow")
    {
        var manifest = ModelPackageManifest.Read(Path.Combine(folder, ModelPackageManifest.FileName));
        var c = manifest.Components;

        using var tokenizer = new KleinPromptTokenizer(Path.Combine(folder, manifest.Tokenizer.File));
        var tokens = tokenizer.Encode(prompt);
        using var textEncoder = new InferenceSession(Path.Combine(folder, c.TextEncoder!.File));
        using var embeddings = textEncoder.Run(
        [
            NamedOnnxValue.CreateFromTensor(c.TextEncoder.Inputs["inputIds"], new DenseTensor<long>(tokens.InputIds, [1, KleinPromptTokenizer.MaxLength])),
            NamedOnnxValue.CreateFromTensor(c.TextEncoder.Inputs["attentionMask"], new DenseTensor<long>(tokens.AttentionMask, [1, KleinPromptTokenizer.MaxLength])),
        ]);
        var context = Single(embeddings, c.TextEncoder.Outputs["promptEmbeds"], [1, KleinPromptTokenizer.MaxLength, manifest.TextEncoder.ContextDim]);

        var imageTokens = LatentSide * LatentSide;
        var noise = OnnxTestRunner.Random(imageTokens * 128, seed: 3);
        using var transformer = new InferenceSession(Path.Combine(folder, c.Transformer!.File));
        using var velocity = transformer.Run(
        [
            NamedOnnxValue.CreateFromTensor(c.Transformer.Inputs["hiddenStates"], new DenseTensor<float>(noise, [1, imageTokens, 128])),
            NamedOnnxValue.CreateFromTensor(c.Transformer.Inputs["encoderHiddenStates"], new DenseTensor<float>(context, [1, KleinPromptTokenizer.MaxLength, manifest.TextEncoder.ContextDim])),
            NamedOnnxValue.CreateFromTensor(c.Transformer.Inputs["timestep"], new DenseTensor<float>(new[] { 0.75f }, [1])),
            NamedOnnxValue.CreateFromTensor(c.Transformer.Inputs["imageIds"], new DenseTensor<float>(LatentLayout.GridIds(LatentSide, LatentSide), [imageTokens, 4])),
            NamedOnnxValue.CreateFromTensor(c.Transformer.Inputs["textIds"], new DenseTensor<float>(LatentLayout.TextIds(KleinPromptTokenizer.MaxLength), [KleinPromptTokenizer.MaxLength, 4])),
        ]);
        var v = Single(velocity, c.Transformer.Outputs["output"], [1, imageTokens, 128]);

        using var decoder = new InferenceSession(Path.Combine(folder, c.VaeDecoder!.File));
        using var decoded = decoder.Run([NamedOnnxValue.CreateFromTensor(c.VaeDecoder.Inputs["latents"], new DenseTensor<float>(noise, [1, 128, LatentSide, LatentSide]))]);
        var image = Single(decoded, c.VaeDecoder.Outputs["image"], [1, 3, 16 * LatentSide, 16 * LatentSide]);

        using var encoder = new InferenceSession(Path.Combine(folder, c.VaeEncoder!.File));
        var picture = OnnxTestRunner.Random(3 * 32 * 32, seed: 4);
        using var encoded = encoder.Run([NamedOnnxValue.CreateFromTensor(c.VaeEncoder.Inputs["image"], new DenseTensor<float>(picture, [1, 3, 32, 32]))]);
        var latents = Single(encoded, c.VaeEncoder.Outputs["latents"], [1, 128, 2, 2]);

        Assert.True(v.Max(Math.Abs) > 0, "a random model should not output all zeros");
        return new Outputs(context, v, image, latents);
    }

    private static float[] Single(IDisposableReadOnlyCollection<DisposableNamedOnnxValue> results, string name, int[] shape)
    {
        var tensor = results.Single(r => r.Name == name).AsTensor<float>();
        Assert.Equal(shape, tensor.Dimensions.ToArray());
        var values = tensor.ToArray();
        Assert.All(values, x => Assert.True(float.IsFinite(x), $"{name} holds a non-finite value"));
        return values;
    }
}
