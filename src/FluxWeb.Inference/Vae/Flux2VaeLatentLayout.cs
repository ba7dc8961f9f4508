namespace FluxWeb.Inference.Vae;

/// <summary>
/// The 2×2 patchify of FLUX.2 latents on the CPU (the graphs do the same in ONNX): einops
/// <c>... c (i pi) (j pj) -> ... (c pi pj) i j</c>, so patched channel = c·4 + pi·2 + pj and
/// patched[n, c·4 + pi·2 + pj, i, j] = raw[n, c, 2i + pi, 2j + pj].
/// </summary>
public static class Flux2VaeLatentLayout
{
    public const int PatchSize = 2;

    public static int PatchedChannel(int channel, int rowInPatch, int columnInPatch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(channel);
        ArgumentOutOfRangeException.ThrowIfNegative(rowInPatch);
        ArgumentOutOfRangeException.ThrowIfNegative(columnInPatch);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rowInPatch, PatchSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(columnInPatch, PatchSize);
        return channel * PatchSize * PatchSize + rowInPatch * PatchSize + columnInPatch;
    }

    /// <summary>The inverse of <see cref="PatchedChannel"/>: (c, pi, pj).</summary>
    public static (int Channel, int RowInPatch, int ColumnInPatch) SplitPatchedChannel(int patchedChannel)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(patchedChannel);
        return (patchedChannel / (PatchSize * PatchSize), patchedChannel / PatchSize % PatchSize, patchedChannel % PatchSize);
    }

    /// <summary>[batch, channels, height, width] → [batch, 4·channels, height/2, width/2].</summary>
    public static float[] Patchify(ReadOnlySpan<float> raw, int batch, int channels, int height, int width)
    {
        CheckLength(raw.Length, batch, channels, height, width);
        if (height % PatchSize != 0 || width % PatchSize != 0)
        {
            throw new ArgumentException($"A {height}×{width} latent cannot be cut into 2×2 patches.", nameof(raw));
        }

        var (h, w) = (height / PatchSize, width / PatchSize);
        var patched = new float[raw.Length];
        for (var n = 0; n < batch; n++)
        {
            for (var c = 0; c < channels; c++)
            {
                for (var y = 0; y < height; y++)
                {
                    for (var x = 0; x < width; x++)
                    {
                        var channel = PatchedChannel(c, y % PatchSize, x % PatchSize);
                        patched[((n * channels * 4 + channel) * h + y / PatchSize) * w + x / PatchSize] = raw[((n * channels + c) * height + y) * width + x];
                    }
                }
            }
        }

        return patched;
    }

    /// <summary>[batch, 4·channels, height, width] → [batch, channels, 2·height, 2·width].</summary>
    public static float[] Unpatchify(ReadOnlySpan<float> patched, int batch, int patchedChannels, int height, int width)
    {
        CheckLength(patched.Length, batch, patchedChannels, height, width);
        if (patchedChannels % (PatchSize * PatchSize) != 0)
        {
            throw new ArgumentException($"{patchedChannels} channels are not a whole number of 2×2 patches.", nameof(patchedChannels));
        }

        var channels = patchedChannels / (PatchSize * PatchSize);
        var (rawHeight, rawWidth) = (height * PatchSize, width * PatchSize);
        var raw = new float[patched.Length];
        for (var n = 0; n < batch; n++)
        {
            for (var p = 0; p < patchedChannels; p++)
            {
                var (c, pi, pj) = SplitPatchedChannel(p);
                for (var i = 0; i < height; i++)
                {
                    for (var j = 0; j < width; j++)
                    {
                        raw[((n * channels + c) * rawHeight + i * PatchSize + pi) * rawWidth + j * PatchSize + pj] = patched[((n * patchedChannels + p) * height + i) * width + j];
                    }
                }
            }
        }

        return raw;
    }

    private static void CheckLength(int length, int batch, int channels, int height, int width)
    {
        if ((long)batch * channels * height * width != length)
        {
            throw new ArgumentException($"{length} values are not a [{batch}, {channels}, {height}, {width}] tensor.");
        }
    }
}
