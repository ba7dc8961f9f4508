using Microsoft.Extensions.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Provenance.Watermarking;

/// <summary>Marks outputs with this installation's payload and reads marks back (ours or known foreign ones).</summary>
public sealed class InvisibleWatermarker
{
    private const int KnownMarkTolerance = 2;
    private readonly WatermarkOptions options;
    private readonly DwtDctWatermark watermark;

    public InvisibleWatermarker(IOptions<WatermarkOptions> options, InstallationIdentity installation)
    {
        this.options = options.Value;
        watermark = new DwtDctWatermark(this.options.Mode);
        InstallationTag = WatermarkPayload.TagFor(installation.Id);
    }

    public ushort InstallationTag { get; }

    public bool Enabled => options.Enabled;

    /// <summary>Marks the image in place; false when disabled or the image is too small to carry the payload.</summary>
    public bool TryEmbed(Image<Rgba32> image, long serial)
    {
        if (!options.Enabled || !DwtDctWatermark.CanCarry(image.Width, image.Height, WatermarkPayload.BitCount))
        {
            return false;
        }

        watermark.Embed(image, WatermarkPayload.Create(InstallationTag, serial).ToBits());
        return true;
    }

    /// <summary>
    /// Reads the payload, also in complemented form: strong chroma quantisation (JPEG q90 4:2:0, q75) tends to move
    /// every carrier by half a step, which flips all bits at once.
    /// </summary>
    public WatermarkDetection Detect(Image<Rgba32> image)
    {
        var reading = DwtDctWatermark.Decode(image, WatermarkPayload.BitCount);
        if (ReadPayload(reading) is { } found)
        {
            return found;
        }

        foreach (var known in KnownWatermarks.All)
        {
            var foreign = DwtDctWatermark.Decode(image, known.Bits.Length);
            if (WatermarkBits.Differences(foreign.Bits, WatermarkBits.Parse(known.Bits)) <= KnownMarkTolerance)
            {
                return new WatermarkDetection(true, foreign.BitString, foreign.Confidence, null, false, known, false);
            }
        }

        return new WatermarkDetection(false, reading.BitString, reading.Confidence, null, false, null, false);
    }

    /// <summary>
    /// The serial of this installation's mark, or null: what an upload check needs, without <see cref="Detect"/>'s
    /// search for foreign marks (which more than doubles the time on an unmarked picture).
    /// </summary>
    public long? FindOwnSerial(Image<Rgba32> image) =>
        ReadPayload(DwtDctWatermark.Decode(image, WatermarkPayload.BitCount))?.Serial;

    private WatermarkDetection? ReadPayload(WatermarkReading reading)
    {
        if (reading.Confidence < options.MinimumConfidence)
        {
            return null;
        }

        var bits = reading.Bits;
        foreach (var inverted in new[] { false, true })
        {
            var candidate = inverted ? bits.Select(bit => !bit).ToArray() : bits;
            if (WatermarkPayload.TryParse(candidate) is { } payload)
            {
                return new WatermarkDetection(true, WatermarkBits.ToString(candidate), reading.Confidence, payload, payload.InstallationTag == InstallationTag, null, inverted);
            }
        }

        return null;
    }
}
