using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Testing.Safety;

/// <summary>
/// Varied pictures made in code for the classifier tests: photo-like gradients with noise, flat
/// drawings, grey, with alpha, skin tones, and sizes from 1×1 to panoramas (both resize directions,
/// and 224×224, which nsfwjs does not resize).
/// </summary>
public static class TestPictures
{
    public static IReadOnlyList<(string Name, Image<Rgba32> Image)> All()
    {
        var list = new List<(string, Image<Rgba32>)>
        {
            ("photo-gradient-640x480", Photo(640, 480, seed: 1, sky: new(70, 130, 200), ground: new(60, 120, 40))),
            ("photo-sunset-1024x768", Photo(1024, 768, seed: 2, sky: new(250, 140, 60), ground: new(40, 30, 60))),
            ("photo-portrait-480x720", Photo(480, 720, seed: 3, sky: new(200, 200, 210), ground: new(120, 90, 70))),
            ("noise-300x200", Noise(300, 200, seed: 4)),
            ("noise-224x224", Noise(224, 224, seed: 5)),
            ("drawing-shapes-512x512", Drawing(512, 512, seed: 6)),
            ("drawing-lines-800x600", Lines(800, 600, seed: 7)),
            ("drawing-cartoon-256x256", Drawing(256, 256, seed: 8)),
            ("flat-white-100x100", Flat(100, 100, new(255, 255, 255, 255))),
            ("flat-black-64x64", Flat(64, 64, new(0, 0, 0, 255))),
            ("grey-gradient-256x256", Grey(256, 256)),
            ("grey-noise-333x177", GreyNoise(333, 177, seed: 9)),
            ("alpha-gradient-320x240", Alpha(Photo(320, 240, seed: 10, sky: new(90, 160, 220), ground: new(200, 170, 120)))),
            ("alpha-transparent-200x200", Flat(200, 200, new(255, 0, 0, 0))),
            ("skin-blobs-600x400", Skin(600, 400, seed: 11)),
            ("skin-flat-300x300", Flat(300, 300, new(224, 172, 140, 255))),
            ("skin-closeup-224x224", Skin(224, 224, seed: 12)),
            ("panorama-1200x150", Photo(1200, 150, seed: 13, sky: new(120, 170, 230), ground: new(90, 80, 60))),
            ("tall-90x900", Photo(90, 900, seed: 14, sky: new(30, 30, 40), ground: new(200, 60, 60))),
            ("tiny-1x1", Flat(1, 1, new(200, 120, 90, 255))),
            ("tiny-3x2", Noise(3, 2, seed: 15)),
            ("strip-2x500", Noise(2, 500, seed: 16)),
            ("odd-225x223", Photo(225, 223, seed: 17, sky: new(10, 200, 120), ground: new(240, 240, 20))),
            ("checker-1000x1000", Checker(1000, 1000, 25)),
        };
        return list;
    }

    /// <summary>A picture the real nsfwjs MobileNetV2 flags under the default thresholds (Porn ≈ 0.83, Hentai ≈ 0.03).</summary>
    public static Image<Rgba32> Flagged() => Skin(600, 400, seed: 11);

    /// <summary>A picture it allows (Neutral ≈ 0.97).</summary>
    public static Image<Rgba32> Allowed() => Photo(640, 480, seed: 1, sky: new(70, 130, 200), ground: new(60, 120, 40));

    public static byte[] Png(Image<Rgba32> image)
    {
        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return stream.ToArray();
    }

    public static Image<Rgba32> Flat(int width, int height, Rgba32 colour) => new(width, height, colour);

    /// <summary>A sky-to-ground gradient with a sun, soft hills and sensor-like noise.</summary>
    public static Image<Rgba32> Photo(int width, int height, int seed, Rgba32 sky, Rgba32 ground)
    {
        var random = new Random(seed);
        var image = new Image<Rgba32>(width, height);
        var (sunX, sunY, sunR) = (random.NextDouble() * width, random.NextDouble() * height * 0.4, Math.Max(2, Math.Min(width, height) * 0.08));
        var phase = random.NextDouble() * Math.PI * 2;
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (var x = 0; x < width; x++)
                {
                    var horizon = height * (0.55 + (0.08 * Math.Sin((x * 6.0 / Math.Max(1, width)) + phase)));
                    var t = y < horizon ? y / Math.Max(1, horizon) : 1.0;
                    var baseColour = y < horizon ? Mix(sky, new Rgba32(255, 255, 255), t * 0.4) : Mix(ground, new Rgba32(0, 0, 0), (y - horizon) / Math.Max(1, height - horizon) * 0.5);
                    var distance = Math.Sqrt(((x - sunX) * (x - sunX)) + ((y - sunY) * (y - sunY)));
                    if (distance < sunR)
                    {
                        baseColour = Mix(baseColour, new Rgba32(255, 240, 200), 1 - (distance / sunR));
                    }

                    row[x] = Jitter(baseColour, random, 12);
                }
            }
        });
        return image;
    }

    public static Image<Rgba32> Noise(int width, int height, int seed)
    {
        var random = new Random(seed);
        var image = new Image<Rgba32>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < height; y++)
            {
                foreach (ref var pixel in rows.GetRowSpan(y))
                {
                    pixel = new Rgba32((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256), 255);
                }
            }
        });
        return image;
    }

    /// <summary>Flat-coloured circles and rectangles with dark outlines on white: a simple drawing.</summary>
    public static Image<Rgba32> Drawing(int width, int height, int seed)
    {
        var random = new Random(seed);
        var image = new Image<Rgba32>(width, height, new Rgba32(255, 255, 255, 255));
        for (var shape = 0; shape < 8; shape++)
        {
            var colour = new Rgba32((byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256), 255);
            var (cx, cy, r) = (random.Next(width), random.Next(height), random.Next(width / 12, width / 4));
            var circle = random.Next(2) == 0;
            image.ProcessPixelRows(rows =>
            {
                for (var y = Math.Max(0, cy - r - 3); y < Math.Min(height, cy + r + 3); y++)
                {
                    var row = rows.GetRowSpan(y);
                    for (var x = Math.Max(0, cx - r - 3); x < Math.Min(width, cx + r + 3); x++)
                    {
                        var d = circle ? Math.Sqrt(((x - cx) * (x - cx)) + ((y - cy) * (y - cy))) : Math.Max(Math.Abs(x - cx), Math.Abs(y - cy));
                        if (d <= r - 3)
                        {
                            row[x] = colour;
                        }
                        else if (d <= r)
                        {
                            row[x] = new Rgba32(20, 20, 20, 255);
                        }
                    }
                }
            });
        }

        return image;
    }

    public static Image<Rgba32> Lines(int width, int height, int seed)
    {
        var random = new Random(seed);
        var image = new Image<Rgba32>(width, height, new Rgba32(250, 248, 240, 255));
        for (var line = 0; line < 40; line++)
        {
            var (x0, y0, x1, y1) = (random.Next(width), random.Next(height), random.Next(width), random.Next(height));
            var steps = Math.Max(Math.Abs(x1 - x0), Math.Abs(y1 - y0)) + 1;
            for (var s = 0; s <= steps; s++)
            {
                var (x, y) = (x0 + ((x1 - x0) * s / steps), y0 + ((y1 - y0) * s / steps));
                for (var dy = -1; dy <= 1; dy++)
                {
                    for (var dx = -1; dx <= 1; dx++)
                    {
                        if (x + dx >= 0 && x + dx < width && y + dy >= 0 && y + dy < height)
                        {
                            image[x + dx, y + dy] = new Rgba32(30, 30, 80, 255);
                        }
                    }
                }
            }
        }

        return image;
    }

    public static Image<Rgba32> Grey(int width, int height)
    {
        var image = new Image<Rgba32>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (var x = 0; x < width; x++)
                {
                    var v = (byte)(((x * 255 / Math.Max(1, width - 1)) + (y * 255 / Math.Max(1, height - 1))) / 2);
                    row[x] = new Rgba32(v, v, v, 255);
                }
            }
        });
        return image;
    }

    public static Image<Rgba32> GreyNoise(int width, int height, int seed)
    {
        var random = new Random(seed);
        var image = new Image<Rgba32>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < height; y++)
            {
                foreach (ref var pixel in rows.GetRowSpan(y))
                {
                    var v = (byte)random.Next(256);
                    pixel = new Rgba32(v, v, v, 255);
                }
            }
        });
        return image;
    }

    /// <summary>Alpha falling from opaque to clear across the picture (the colours stay as stored).</summary>
    public static Image<Rgba32> Alpha(Image<Rgba32> image)
    {
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (var x = 0; x < row.Length; x++)
                {
                    row[x].A = (byte)(255 - (x * 255 / Math.Max(1, row.Length - 1)));
                }
            }
        });
        return image;
    }

    /// <summary>Large soft skin-toned shapes on a warm background.</summary>
    public static Image<Rgba32> Skin(int width, int height, int seed)
    {
        var random = new Random(seed);
        var image = new Image<Rgba32>(width, height);
        var blobs = Enumerable.Range(0, 5).Select(_ => (X: random.NextDouble() * width, Y: random.NextDouble() * height, R: (0.2 + (random.NextDouble() * 0.3)) * Math.Min(width, height))).ToList();
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (var x = 0; x < width; x++)
                {
                    var weight = blobs.Max(b => Math.Max(0, 1 - (Math.Sqrt(((x - b.X) * (x - b.X)) + ((y - b.Y) * (y - b.Y))) / b.R)));
                    row[x] = Jitter(Mix(new Rgba32(120, 60, 50, 255), new Rgba32(232, 180, 150, 255), Math.Min(1, weight * 2)), random, 6);
                }
            }
        });
        return image;
    }

    public static Image<Rgba32> Checker(int width, int height, int cell)
    {
        var image = new Image<Rgba32>(width, height);
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (var x = 0; x < width; x++)
                {
                    row[x] = ((x / cell) + (y / cell)) % 2 == 0 ? new Rgba32(240, 20, 20, 255) : new Rgba32(20, 20, 240, 255);
                }
            }
        });
        return image;
    }

    /// <summary>The picture's RGB bytes, row-major (what nsfwjs reads; alpha is dropped as tf.browser.fromPixels does).</summary>
    public static byte[] Rgb(Image<Rgba32> image)
    {
        var bytes = new byte[image.Width * image.Height * 3];
        var i = 0;
        image.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < rows.Height; y++)
            {
                foreach (var pixel in rows.GetRowSpan(y))
                {
                    bytes[i++] = pixel.R;
                    bytes[i++] = pixel.G;
                    bytes[i++] = pixel.B;
                }
            }
        });
        return bytes;
    }

    private static Rgba32 Mix(Rgba32 a, Rgba32 b, double t) =>
        new((byte)(a.R + ((b.R - a.R) * t)), (byte)(a.G + ((b.G - a.G) * t)), (byte)(a.B + ((b.B - a.B) * t)), 255);

    private static Rgba32 Jitter(Rgba32 colour, Random random, int amount) => new(
        (byte)Math.Clamp(colour.R + random.Next(-amount, amount + 1), 0, 255),
        (byte)Math.Clamp(colour.G + random.Next(-amount, amount + 1), 0, 255),
        (byte)Math.Clamp(colour.B + random.Next(-amount, amount + 1), 0, 255),
        colour.A);
}
