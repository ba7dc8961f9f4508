using System.Diagnostics;
using FluxWeb.Provenance.Watermarking;
using Microsoft.Extensions.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace FluxWeb.Provenance.Robustness;

internal static class RobustnessTable
{
    private static readonly (string Name, Func<Image<Rgba32>, Image<Rgba32>> Apply)[] Transforms =
    [
        ("PNG (lossless)", image => RoundTrip(image, new SixLabors.ImageSharp.Formats.Png.PngEncoder())),
        ("JPEG q95 4:2:0", image => RoundTrip(image, Jpeg(95, JpegColorType.YCbCrRatio420))),
        ("JPEG q95 4:4:4", image => RoundTrip(image, Jpeg(95, JpegColorType.YCbCrRatio444))),
        ("JPEG q90 4:2:0", image => RoundTrip(image, Jpeg(90, JpegColorType.YCbCrRatio420))),
        ("JPEG q90 4:4:4", image => RoundTrip(image, Jpeg(90, JpegColorType.YCbCrRatio444))),
        ("JPEG q75 4:2:0", image => RoundTrip(image, Jpeg(75, JpegColorType.YCbCrRatio420))),
        ("JPEG q75 4:4:4", image => RoundTrip(image, Jpeg(75, JpegColorType.YCbCrRatio444))),
        ("brightness +10 %", image => image.Clone(x => x.Brightness(1.1f))),
        ("brightness -10 %", image => image.Clone(x => x.Brightness(0.9f))),
        ("resize 50 %", image => image.Clone(x => x.Resize(image.Width / 2, image.Height / 2))),
        ("resize 200 %", image => image.Clone(x => x.Resize(image.Width * 2, image.Height * 2))),
        ("crop bottom-right 10 % (8-px aligned)", image => image.Clone(x => x.Crop(new Rectangle(0, 0, image.Width * 9 / 10 / 8 * 8, image.Height * 9 / 10 / 8 * 8)))),
        ("crop top 8 px (aligned)", image => image.Clone(x => x.Crop(new Rectangle(0, 8, image.Width, image.Height - 8)))),
        ("crop top-left 3 px (unaligned)", image => image.Clone(x => x.Crop(new Rectangle(3, 3, image.Width - 3, image.Height - 3)))),
    ];

    public static void Print(TextWriter output)
    {
        var watermarkers = new[] { DwtDctEmbedMode.CarrierPreserving, DwtDctEmbedMode.ImwatermarkExact };
        const long serial = 123_456;
        var installation = new InstallationIdentity("robustness");
        var bits = WatermarkPayload.Create(WatermarkPayload.TagFor(installation.Id), serial).ToBits();
        output.WriteLine($"Payload: {WatermarkPayload.BitCount} bits. Cells: raw bits correct / {WatermarkPayload.BitCount}; ✓ when InvisibleWatermarker.Detect recovered this installation's payload and serial (⊘ = recovered from complemented bits), ✗ otherwise; block agreement (confidence).");
        output.WriteLine();
        foreach (var (width, height, seed) in new[] { (512, 512, 1), (1024, 1024, 2), (1920, 1080, 3) })
        {
            using var original = SyntheticPhoto.Create(width, height, seed);
            var marked = new Dictionary<DwtDctEmbedMode, Image<Rgba32>>();
            output.WriteLine($"### {width}×{height}");
            output.WriteLine();
            foreach (var mode in watermarkers)
            {
                var copy = original.Clone();
                var stopwatch = Stopwatch.StartNew();
                Watermarker(mode, installation).TryEmbed(copy, serial);
                output.WriteLine($"- {mode}: PSNR {Psnr(original, copy):0.0} dB, embed {stopwatch.ElapsedMilliseconds} ms");
                marked[mode] = copy;
            }

            var unmarked = Watermarker(DwtDctEmbedMode.CarrierPreserving, installation).Detect(original);
            output.WriteLine($"- unmarked original: {(unmarked.Present ? "MARK FOUND (false positive)" : "no mark found (correct)")}, confidence {unmarked.Confidence:0.00}");
            output.WriteLine();
            output.WriteLine($"| transform | {string.Join(" | ", watermarkers)} |");
            output.WriteLine($"|---|{string.Concat(watermarkers.Select(_ => "---|"))}");
            foreach (var (name, apply) in Transforms)
            {
                var cells = watermarkers.Select(mode =>
                {
                    using var attacked = apply(marked[mode]);
                    var reading = DwtDctWatermark.Decode(attacked, bits.Length);
                    var correct = bits.Length - WatermarkBits.Differences(reading.Bits, bits);
                    var detection = Watermarker(mode, installation).Detect(attacked);
                    var mark = detection is { FromThisInstallation: true, Serial: serial } ? (detection.Inverted ? "⊘" : "✓") : "✗";
                    return $"{correct}/{bits.Length} {mark} ({reading.Confidence:0.00})";
                });
                output.WriteLine($"| {name} | {string.Join(" | ", cells)} |");
            }

            output.WriteLine();
            foreach (var image in marked.Values)
            {
                image.Dispose();
            }
        }
    }

    private static InvisibleWatermarker Watermarker(DwtDctEmbedMode mode, InstallationIdentity installation) =>
        new(Options.Create(new WatermarkOptions { Mode = mode }), installation);

    private static JpegEncoder Jpeg(int quality, JpegColorType colorType) => new() { Quality = quality, ColorType = colorType };

    private static Image<Rgba32> RoundTrip(Image<Rgba32> image, SixLabors.ImageSharp.Formats.IImageEncoder encoder)
    {
        using var stream = new MemoryStream();
        image.Save(stream, encoder);
        stream.Position = 0;
        return Image.Load<Rgba32>(stream);
    }

    private static double Psnr(Image<Rgba32> a, Image<Rgba32> b)
    {
        double sum = 0;
        for (var y = 0; y < a.Height; y++)
        {
            for (var x = 0; x < a.Width; x++)
            {
                var p = a[x, y];
                var q = b[x, y];
                sum += ((p.R - q.R) * (p.R - q.R)) + ((p.G - q.G) * (p.G - q.G)) + ((p.B - q.B) * (p.B - q.B));
            }
        }

        var mse = sum / (3.0 * a.Width * a.Height);
        return 10 * Math.Log10(255 * 255 / mse);
    }
}
