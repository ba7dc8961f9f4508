namespace FluxWeb.Inference.Pipeline;

/// <summary>
/// How latents become transformer tokens: [C, H, W] → [H·W, C] in raster order (token = h·W + w),
/// and the 4-axis position ids (t, h, w, l) of text, output and reference tokens.
/// </summary>
public static class LatentLayout
{
    public const int Channels = 128;

    /// <summary>Reference image k sits at t = 10 + 10k: far from the output image (t = 0) in RoPE space.</summary>
    public static int ReferenceTime(int index) => 10 + 10 * index;

    public static float[] Pack(ReadOnlySpan<float> chw, int channels, int height, int width)
    {
        var tokens = new float[chw.Length];
        for (var c = 0; c < channels; c++)
        {
            for (var h = 0; h < height; h++)
            {
                for (var w = 0; w < width; w++)
                {
                    tokens[(h * width + w) * channels + c] = chw[(c * height + h) * width + w];
                }
            }
        }

        return tokens;
    }

    public static float[] Unpack(ReadOnlySpan<float> tokens, int channels, int height, int width)
    {
        var chw = new float[tokens.Length];
        for (var c = 0; c < channels; c++)
        {
            for (var h = 0; h < height; h++)
            {
                for (var w = 0; w < width; w++)
                {
                    chw[(c * height + h) * width + w] = tokens[(h * width + w) * channels + c];
                }
            }
        }

        return chw;
    }

    /// <summary>Ids of a latent grid at time index t: (t, h, w, 0) in raster order.</summary>
    public static float[] GridIds(int height, int width, int t = 0)
    {
        var ids = new float[height * width * 4];
        for (var h = 0; h < height; h++)
        {
            for (var w = 0; w < width; w++)
            {
                var i = (h * width + w) * 4;
                ids[i] = t;
                ids[i + 1] = h;
                ids[i + 2] = w;
            }
        }

        return ids;
    }

    /// <summary>Ids of text tokens: (0, 0, 0, l).</summary>
    public static float[] TextIds(int count)
    {
        var ids = new float[count * 4];
        for (var l = 0; l < count; l++)
        {
            ids[l * 4 + 3] = l;
        }

        return ids;
    }
}
