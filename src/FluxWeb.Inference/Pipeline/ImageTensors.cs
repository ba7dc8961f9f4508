using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using SixLabors.ImageSharp.Processing.Processors.Transforms;

namespace FluxWeb.Inference.Pipeline;

/// <summary>Between ImageSharp images and the VAE's [3, H, W] float tensors in [−1, 1].</summary>
public static class ImageTensors
{
    public static float[] ToChw(Image<Rgb24> image)
    {
        var (w, h) = (image.Width, image.Height);
        var plane = w * h;
        var values = new float[3 * plane];
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < h; y++)
            {
                var row = rows.GetRowSpan(y);
                for (var x = 0; x < w; x++)
                {
                    var i = y * w + x;
                    values[i] = row[x].R / 127.5f - 1f;
                    values[plane + i] = row[x].G / 127.5f - 1f;
                    values[2 * plane + i] = row[x].B / 127.5f - 1f;
                }
            }
        });
        return values;
    }

    /// <summary>Clamps to [−1, 1] and rounds to 8 bits, as diffusers' post-processing does.</summary>
    public static Image<Rgb24> FromChw(ReadOnlySpan<float> chw, int width, int height)
    {
        var plane = width * height;
        var pixels = new Rgb24[plane];
        for (var i = 0; i < plane; i++)
        {
            pixels[i] = new Rgb24(ToByte(chw[i]), ToByte(chw[plane + i]), ToByte(chw[2 * plane + i]));
        }

        return Image.LoadPixelData<Rgb24>(pixels, width, height);
    }

    private static byte ToByte(float value) => (byte)MathF.Round(Math.Clamp((value + 1f) * 0.5f, 0f, 1f) * 255f);
}

/// <summary>Scale to a pixel cap (never up), then a centred crop to multiples of 16.</summary>
public sealed record ImageGeometry(int ResizedWidth, int ResizedHeight, int CropX, int CropY, int Width, int Height)
{
    public static ImageGeometry For(int width, int height, long maxPixels)
    {
        var (w, h) = ImagePreparation.FitPixels(width, height, maxPixels);
        var cropW = w / 16 * 16;
        var cropH = h / 16 * 16;
        return new ImageGeometry(w, h, (w - cropW) / 2, (h - cropH) / 2, cropW, cropH);
    }

    public Image<TPixel> Apply<TPixel>(Image<TPixel> image, IResampler resampler)
        where TPixel : unmanaged, IPixel<TPixel> => image.Clone(context =>
        {
            if (ResizedWidth != image.Width || ResizedHeight != image.Height)
            {
                context.Resize(ResizedWidth, ResizedHeight, resampler);
            }

            if (Width != ResizedWidth || Height != ResizedHeight)
            {
                context.Crop(new Rectangle(CropX, CropY, Width, Height));
            }
        });
}

/// <summary>
/// The reference preprocessing of klein: refuse tiny or extremely elongated images, scale down to a
/// pixel cap preserving the aspect ratio (Lanczos), then crop centrally to multiples of 16.
/// </summary>
public static class ImagePreparation
{
    public const int MinimumSide = 64;
    public const double MaximumAspectRatio = 8;

    public static ImageGeometry CheckAndPlan(int width, int height, long maxPixels, string what)
    {
        if (Math.Min(width, height) < MinimumSide)
        {
            throw new GenerationRequestException($"{what} is {width}×{height}: each side must be at least {MinimumSide} pixels.");
        }

        if ((double)Math.Max(width, height) / Math.Min(width, height) > MaximumAspectRatio)
        {
            throw new GenerationRequestException($"{what} is {width}×{height}: the longer side may be at most {MaximumAspectRatio} times the shorter.");
        }

        return ImageGeometry.For(width, height, maxPixels);
    }

    public static Image<Rgb24> PrepareReference(Image<Rgb24> image, long maxPixels, string what) =>
        CheckAndPlan(image.Width, image.Height, maxPixels, what).Apply(image, KnownResamplers.Lanczos3);

    /// <summary>Area-preserving downscale to at most <paramref name="maxPixels"/>; never upscales.</summary>
    public static (int Width, int Height) FitPixels(int width, int height, long maxPixels)
    {
        var pixels = (long)width * height;
        if (pixels <= maxPixels)
        {
            return (width, height);
        }

        var scale = Math.Sqrt((double)maxPixels / pixels);
        return (Math.Max(16, (int)(width * scale)), Math.Max(16, (int)(height * scale)));
    }

    /// <summary>
    /// The mask on the latent token grid: binarised at half intensity, then resized bilinearly the way
    /// torch's <c>interpolate(mode="bilinear")</c> does (sampling at pixel centres, no antialiasing),
    /// straight to (H/16, W/16). White = repaint.
    /// </summary>
    public static float[] MaskToTokens(Image<L8> mask, int gridWidth, int gridHeight)
    {
        var (width, height) = (mask.Width, mask.Height);
        var binary = new float[width * height];
        mask.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (var x = 0; x < width; x++)
                {
                    binary[y * width + x] = row[x].PackedValue >= 128 ? 1f : 0f;
                }
            }
        });

        var values = new float[gridWidth * gridHeight];
        var scaleX = (double)width / gridWidth;
        var scaleY = (double)height / gridHeight;
        for (var gy = 0; gy < gridHeight; gy++)
        {
            var (y0, y1, fy) = Neighbours((gy + 0.5) * scaleY - 0.5, height);
            for (var gx = 0; gx < gridWidth; gx++)
            {
                var (x0, x1, fx) = Neighbours((gx + 0.5) * scaleX - 0.5, width);
                var top = binary[y0 * width + x0] * (1 - fx) + binary[y0 * width + x1] * fx;
                var bottom = binary[y1 * width + x0] * (1 - fx) + binary[y1 * width + x1] * fx;
                values[gy * gridWidth + gx] = (float)(top * (1 - fy) + bottom * fy);
            }
        }

        return values;

        static (int Low, int High, double Fraction) Neighbours(double position, int size)
        {
            position = Math.Max(position, 0);
            var low = Math.Min((int)Math.Floor(position), size - 1);
            return (low, Math.Min(low + 1, size - 1), position - low);
        }
    }

    /// <summary>Blends the generated image over the source through a feathered mask, so untouched pixels stay exactly the source's.</summary>
    public static Image<Rgb24> FeatherComposite(Image<Rgb24> source, Image<Rgb24> generated, Image<L8> mask, float featherRadius)
    {
        using var soft = mask.Clone(context => context.BinaryThreshold(0.5f).GaussianBlur(featherRadius));
        var result = generated.Clone();
        result.ProcessPixelRows(source, soft, (resultRows, sourceRows, maskRows) =>
        {
            for (var y = 0; y < resultRows.Height; y++)
            {
                var r = resultRows.GetRowSpan(y);
                var s = sourceRows.GetRowSpan(y);
                var m = maskRows.GetRowSpan(y);
                for (var x = 0; x < r.Length; x++)
                {
                    var a = m[x].PackedValue / 255f;
                    r[x] = new Rgb24(Blend(s[x].R, r[x].R, a), Blend(s[x].G, r[x].G, a), Blend(s[x].B, r[x].B, a));
                }
            }
        });
        return result;

        static byte Blend(byte keep, byte repaint, float alpha) => (byte)MathF.Round(keep + (repaint - keep) * alpha);
    }
}
