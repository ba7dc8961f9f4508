using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;

namespace FluxWeb.Inference.Engine;

/// <summary>
/// Rough activation memory of one run, per component and resolution, so the engine can make room
/// (unload the text encoder, another model) before a large job instead of running out of memory in
/// the middle. Deliberately generous: counts of simultaneously live tensors read off the graphs'
/// widest points; bench/gpu prints them beside what the GPU really used.
/// </summary>
public static class ActivationEstimate
{
    /// <summary>A single-stream block holds about this many [tokens, hidden] tensors at once (input, norm, the 9·hidden projection, q/k/v rotated, attention, MLP, concat, output).</summary>
    public const int TransformerLiveTensors = 24;

    /// <summary>Decoder/encoder levels at full resolution hold about this many [pixels, channels] tensors at once.</summary>
    public const int VaeLiveTensors = 6;

    public const int TextEncoderLiveTensors = 16;

    /// <summary>Top-level VAE channels of the official FLUX.2 VAE (block_out_channels[0]).</summary>
    public const int OfficialVaeChannels = 128;

    public static long ElementBytes(ModelPackageManifest manifest) => manifest.Precision.Compute == "fp32" ? 4 : 2;

    public static long TransformerPerToken(int hidden, long elementBytes) => TransformerLiveTensors * hidden * elementBytes;

    public static long VaePerPixel(int topChannels, long elementBytes) => VaeLiveTensors * topChannels * elementBytes;

    public static long TextEncoderPerToken(int hidden, long elementBytes) => TextEncoderLiveTensors * hidden * elementBytes;

    /// <param name="fusedAttention">Flash or memory-efficient attention (CUDA, fp16/bf16): no [heads, tokens, tokens] score matrix.</param>
    public static long Transformer(ModelPackageManifest manifest, int batch, int tokens, int textTokens, bool fusedAttention)
    {
        var sequence = (long)tokens + textTokens;
        var perToken = manifest.Components.Transformer?.ActivationBytesPerUnit ?? TransformerPerToken(manifest.Transformer.Hidden, ElementBytes(manifest));
        var scores = fusedAttention ? 0 : batch * (long)Math.Max(1, manifest.Transformer.Heads) * sequence * sequence * 4;
        // FP8/NVFP4 linears dequantise one weight at a time: the largest layer (single-block linear1, 9·hidden × hidden) in the compute type, plus float32 on the way for FP8.
        var dequantised = manifest.Precision.Weights is "fp8" or "nvfp4"
            ? 9L * manifest.Transformer.Hidden * manifest.Transformer.Hidden * (ElementBytes(manifest) + (manifest.Precision.Weights == "fp8" ? 4 : 0))
            : 0;
        return batch * sequence * perToken + scores + dequantised;
    }

    public static long TextEncoder(ModelPackageManifest manifest, int tokens, bool fusedAttention)
    {
        var perToken = manifest.Components.TextEncoder?.ActivationBytesPerUnit ?? TextEncoderPerToken(manifest.TextEncoder.HiddenSize, ElementBytes(manifest));
        // Qwen3's attention has an additive mask, so it is never fused: 32 heads × tokens² scores in float32 at most.
        return tokens * perToken + 32L * tokens * tokens * 4;
    }

    public static long VaeDecoder(ModelPackageManifest manifest, int width, int height) =>
        (long)width * height * (manifest.Components.VaeDecoder?.ActivationBytesPerUnit ?? VaePerPixel(OfficialVaeChannels, ElementBytes(manifest)));

    public static long VaeEncoder(ModelPackageManifest manifest, int width, int height) =>
        (long)width * height * (manifest.Components.VaeEncoder?.ActivationBytesPerUnit ?? VaePerPixel(OfficialVaeChannels, ElementBytes(manifest)));

    public static int JobTokens(int width, int height, IEnumerable<(int Width, int Height)> references) =>
        width / 16 * (height / 16) + references.Sum(r => r.Width / 16 * (r.Height / 16));

    public static int Tokens(float[] latents) => latents.Length / LatentLayout.Channels;
}
