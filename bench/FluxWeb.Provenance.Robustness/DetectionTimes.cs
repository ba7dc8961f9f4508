using System.Diagnostics;
using FluxWeb.Provenance.Watermarking;
using Microsoft.Extensions.Options;

namespace FluxWeb.Provenance.Robustness;

/// <summary>
/// What reading the watermark costs on pictures of upload sizes: every upload (pictures and masks in colour)
/// is checked for this server's mark before it is stored, so this is time an upload waits.
/// </summary>
internal static class DetectionTimes
{
    public static void Print(TextWriter output)
    {
        var watermarker = new InvisibleWatermarker(Options.Create(new WatermarkOptions()), new InstallationIdentity("detection-times"));
        output.WriteLine("| picture | upload check (own serial), marked | upload check, unmarked | full Detect (verify), unmarked |");
        output.WriteLine("|---|---|---|---|");
        foreach (var (width, height) in new[] { (1024, 1024), (2048, 2048), (4096, 4096), (8192, 4096) })
        {
            using var unmarked = SyntheticPhoto.Create(width, height, seed: 7);
            using var marked = unmarked.Clone();
            watermarker.TryEmbed(marked, 4242);
            output.WriteLine(
                $"| {width}×{height} ({width * (long)height / 1e6:0.#} MP) | {Median(() => watermarker.FindOwnSerial(marked)):0} ms | {Median(() => watermarker.FindOwnSerial(unmarked)):0} ms | {Median(() => watermarker.Detect(unmarked)):0} ms |");
        }
    }

    /// <summary>Median of five runs after a warm-up run.</summary>
    private static double Median(Action detect)
    {
        detect();
        var times = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var stopwatch = Stopwatch.StartNew();
            detect();
            times.Add(stopwatch.Elapsed.TotalMilliseconds);
        }

        times.Sort();
        return times[times.Count / 2];
    }
}
