using FluxWeb.Inference.Packages;

namespace FluxWeb.Inference.Pipeline;

/// <summary>
/// A step preview straight from latents: each 128-channel token is 32 VAE channels × a 2×2 patch;
/// a fitted linear map turns the 32 channels of each patch pixel into RGB, giving an image at 1/8 of
/// the output size in microseconds instead of a VAE decode.
/// </summary>
public static class LatentPreview
{
    public const int VaeChannels = 32;

    public static PreviewImage Render(ReadOnlySpan<float> tokens, int gridHeight, int gridWidth, LatentPreviewInfo? projection) =>
        FromProjected(Project(tokens, projection), gridHeight, gridWidth, fitted: HasFittedProjection(projection));

    /// <summary>Whether the package carries a fitted latent → RGB map (imported packages may not).</summary>
    public static bool HasFittedProjection(LatentPreviewInfo? projection) =>
        projection is not null && projection.Factors.Length == 3 * VaeChannels && projection.Bias.Length == 3;

    /// <summary>
    /// RGB of every token's 2×2 latent pixels, [tokens, 4 pixels, 3]: the fitted map, or without one
    /// the first VAE channel as grey. <see cref="SamplerStepGraph"/> computes the same on the device,
    /// so only these 12 values a token travel to the host.
    /// </summary>
    public static float[] Project(ReadOnlySpan<float> tokens, LatentPreviewInfo? projection)
    {
        var fitted = HasFittedProjection(projection);
        var count = tokens.Length / LatentLayout.Channels;
        var rgb = new float[count * 12];
        for (var t = 0; t < count; t++)
        {
            var token = tokens.Slice(t * LatentLayout.Channels, LatentLayout.Channels);
            for (var pixel = 0; pixel < 4; pixel++)
            {
                for (var k = 0; k < 3; k++)
                {
                    if (!fitted)
                    {
                        rgb[t * 12 + pixel * 3 + k] = token[pixel];
                        continue;
                    }

                    var sum = projection!.Bias[k];
                    for (var c = 0; c < VaeChannels; c++)
                    {
                        sum += projection.Factors[k * VaeChannels + c] * token[c * 4 + pixel];
                    }

                    rgb[t * 12 + pixel * 3 + k] = sum;
                }
            }
        }

        return rgb;
    }

    /// <summary>
    /// The preview image (1/8 of the output size) from projected RGB [tokens, 4, 3]: a fitted map's
    /// output is in [−1, 1]; the grey fallback is stretched over its own range.
    /// </summary>
    public static PreviewImage FromProjected(ReadOnlySpan<float> rgb, int gridHeight, int gridWidth, bool fitted)
    {
        var width = gridWidth * 2;
        var height = gridHeight * 2;
        var bytes = new byte[width * height * 3];
        var (low, high) = fitted ? (-1f, 1f) : Range(rgb);
        for (var h = 0; h < gridHeight; h++)
        {
            for (var w = 0; w < gridWidth; w++)
            {
                var token = h * gridWidth + w;
                for (var pi = 0; pi < 2; pi++)
                {
                    for (var pj = 0; pj < 2; pj++)
                    {
                        var offset = ((2 * h + pi) * width + 2 * w + pj) * 3;
                        for (var k = 0; k < 3; k++)
                        {
                            var value = rgb[token * 12 + (pi * 2 + pj) * 3 + k];
                            bytes[offset + k] = (byte)Math.Clamp(MathF.Round((value - low) / (high - low) * 255f), 0f, 255f);
                        }
                    }
                }
            }
        }

        return new PreviewImage(width, height, bytes);
    }

    /// <summary>The range of the grey values of each token's first pixel (enough to place the image in 0–255).</summary>
    private static (float Low, float High) Range(ReadOnlySpan<float> rgb)
    {
        var low = float.MaxValue;
        var high = float.MinValue;
        for (var i = 0; i < rgb.Length; i += 12)
        {
            low = Math.Min(low, rgb[i]);
            high = Math.Max(high, rgb[i]);
        }

        return high > low ? (low, high) : (low - 1, low + 1);
    }

    /// <summary>The clean-image estimate of flow matching: x̂₀ = x_σ − σ·v.</summary>
    public static float[] PredictClean(ReadOnlySpan<float> latents, ReadOnlySpan<float> velocity, float sigma)
    {
        var clean = new float[latents.Length];
        for (var i = 0; i < clean.Length; i++)
        {
            clean[i] = latents[i] - sigma * velocity[i];
        }

        return clean;
    }
}
