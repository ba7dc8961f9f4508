using FluxWeb.Provenance.Watermarking;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Provenance.Tests.Watermarking;

/// <summary>
/// Reference vectors made by the public imwatermark 0.2.0 (OpenCV 4.6, PyWavelets 1.1.1) with
/// <c>Vectors/generate_vectors.py</c>: its inputs, its marked outputs and what its own decoder read back.
/// </summary>
public sealed class ImwatermarkVectorTests
{
    public static TheoryData<string> ReferenceCases() => ["a", "b", "c"];

    [Theory]
    [MemberData(nameof(ReferenceCases))]
    public void Exact_mode_reproduces_imwatermark_output_byte_for_byte(string name)
    {
        var (embedded, _) = Vector.Bits($"marked_{name}.txt");
        using var image = Vector.Load($"input_{name}.png");
        using var expected = Vector.Load($"marked_{name}.png");

        new DwtDctWatermark(DwtDctEmbedMode.ImwatermarkExact).Embed(image, WatermarkBits.Parse(embedded));

        Assert.Equal(0, Vector.DifferingPixels(expected, image));
    }

    [Theory]
    [MemberData(nameof(ReferenceCases))]
    public void Decoder_reads_what_imwatermark_reads_from_its_own_output(string name)
    {
        var (_, decodedByImwatermark) = Vector.Bits($"marked_{name}.txt");
        using var marked = Vector.Load($"marked_{name}.png");

        var reading = DwtDctWatermark.Decode(marked, decodedByImwatermark.Length);

        Assert.Equal(decodedByImwatermark, reading.BitString);
    }

    [Fact]
    public void The_flux_reference_payload_is_the_46_bit_string_of_the_spec()
    {
        var (embedded, _) = Vector.Bits("marked_a.txt");

        Assert.Equal("1010101111111010000111100111001111010100101110", embedded);
        Assert.Equal(KnownWatermarks.FluxReference.Bits, embedded);
        Assert.Equal(Convert.ToString(0xB3EC907BB19E, 2).PadLeft(48, '0'), Vector.Bits("marked_c.txt").Embedded);
    }

    internal static class Vector
    {
        private static string Folder => Path.Combine(AppContext.BaseDirectory, "Watermarking", "Vectors");

        public static Image<Rgba32> Load(string file) => Image.Load<Rgba32>(Path.Combine(Folder, file));

        public static (string Embedded, string Decoded) Bits(string file)
        {
            var lines = File.ReadAllLines(Path.Combine(Folder, file)).Select(line => line.Split(' ')).ToDictionary(parts => parts[0], parts => parts[1]);
            return (lines["embedded"], lines["decoded"]);
        }

        public static int DifferingPixels(Image<Rgba32> a, Image<Rgba32> b)
        {
            var count = 0;
            for (var y = 0; y < a.Height; y++)
            {
                for (var x = 0; x < a.Width; x++)
                {
                    count += a[x, y] == b[x, y] ? 0 : 1;
                }
            }

            return count;
        }
    }
}
