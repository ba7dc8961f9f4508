using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Provenance.Tests.Support;

/// <summary>Deterministic synthetic pictures: gradients plus multi-scale noise, roughly the statistics of a photo.</summary>
public static class TestImages
{
    public static Image<Rgba32> Photo(int width, int height, int seed = 1)
    {
        var random = new Random(seed);
        var coarse = Noise(random, (width / 32) + 2, (height / 32) + 2);
        var fine = Noise(random, (width / 6) + 2, (height / 6) + 2);
        var image = new Image<Rgba32>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (var x = 0; x < width; x++)
                {
                    var c = Sample(coarse, x / 32.0, y / 32.0);
                    var f = Sample(fine, x / 6.0, y / 6.0);
                    var r = 90 + (100 * x / (double)width) + (60 * c) + (25 * f);
                    var g = 70 + (120 * y / (double)height) + (40 * c) - (20 * f);
                    var b = 160 - (80 * x / (double)width) + (50 * f) - (30 * c);
                    row[x] = new Rgba32(Clamp(r), Clamp(g), Clamp(b), 255);
                }
            }
        });
        return image;
    }

    public static Image<Rgba32> Flat(int width, int height, Rgba32 colour)
    {
        var image = new Image<Rgba32>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < height; y++)
            {
                rows.GetRowSpan(y).Fill(colour);
            }
        });
        return image;
    }

    public static void FillRectangle(Image<Rgba32> image, Rectangle area, Rgba32 colour)
    {
        for (var y = area.Top; y < area.Bottom; y++)
        {
            for (var x = area.Left; x < area.Right; x++)
            {
                image[x, y] = colour;
            }
        }
    }

    public static byte[] Png(Image image)
    {
        using var stream = new MemoryStream();
        image.Save(stream, new PngEncoder());
        return stream.ToArray();
    }

    public static byte[] Jpeg(Image image, int quality = 90, JpegColorType colorType = JpegColorType.YCbCrRatio420)
    {
        using var stream = new MemoryStream();
        image.Save(stream, new JpegEncoder { Quality = quality, ColorType = colorType });
        return stream.ToArray();
    }

    private static double[,] Noise(Random random, int width, int height)
    {
        var grid = new double[width + 1, height + 1];
        for (var x = 0; x <= width; x++)
        {
            for (var y = 0; y <= height; y++)
            {
                grid[x, y] = (random.NextDouble() * 2) - 1;
            }
        }

        return grid;
    }

    private static double Sample(double[,] grid, double x, double y)
    {
        var x0 = (int)x;
        var y0 = (int)y;
        var tx = x - x0;
        var ty = y - y0;
        tx = tx * tx * (3 - (2 * tx));
        ty = ty * ty * (3 - (2 * ty));
        var top = grid[x0, y0] + ((grid[x0 + 1, y0] - grid[x0, y0]) * tx);
        var bottom = grid[x0, y0 + 1] + ((grid[x0 + 1, y0 + 1] - grid[x0, y0 + 1]) * tx);
        return top + ((bottom - top) * ty);
    }

    private static byte Clamp(double value) => (byte)Math.Clamp(Math.Round(value), 0, 255);
}
