using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Provenance.Robustness;

/// <summary>A deterministic stand-in for a generated picture: smooth regions, gradients and fine texture.</summary>
internal static class SyntheticPhoto
{
    public static Image<Rgba32> Create(int width, int height, int seed)
    {
        var random = new Random(seed);
        var blobs = Enumerable.Range(0, 12).Select(_ => (X: random.NextDouble() * width, Y: random.NextDouble() * height, R: (0.05 + (random.NextDouble() * 0.2)) * width, Hue: random.NextDouble())).ToArray();
        var texture = new double[(width / 3) + 2, (height / 3) + 2];
        for (var x = 0; x < texture.GetLength(0); x++)
        {
            for (var y = 0; y < texture.GetLength(1); y++)
            {
                texture[x, y] = random.NextDouble() - 0.5;
            }
        }

        var image = new Image<Rgba32>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (var x = 0; x < width; x++)
                {
                    double r = 60 + (120.0 * y / height), g = 90 + (80.0 * x / width), b = 170 - (90.0 * y / height);
                    foreach (var blob in blobs)
                    {
                        var d = Math.Sqrt(((x - blob.X) * (x - blob.X)) + ((y - blob.Y) * (y - blob.Y))) / blob.R;
                        var weight = Math.Exp(-d * d);
                        r += weight * 90 * Math.Cos(blob.Hue * 6.28);
                        g += weight * 90 * Math.Cos((blob.Hue * 6.28) + 2.1);
                        b += weight * 90 * Math.Cos((blob.Hue * 6.28) + 4.2);
                    }

                    var t = 18 * texture[x / 3, y / 3];
                    row[x] = new Rgba32(Clamp(r + t), Clamp(g + t), Clamp(b + t), 255);
                }
            }
        });
        return image;
    }

    private static byte Clamp(double value) => (byte)Math.Clamp(Math.Round(value), 0, 255);
}
