using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Provenance.Watermarking;

/// <summary>
/// The <c>dwtDct</c> invisible watermark of the public <c>invisible-watermark</c> package (imwatermark 0.2.0), as used
/// by FLUX.1 and SDXL: OpenCV BT.601 YUV, U channel only, one-level Haar DWT, 4×4 blocks of the LL band in row-major
/// order, block n carrying bit n mod L in the quantisation of its largest non-DC coefficient (scale 36). Despite the
/// name no DCT is applied. The inverse transform swaps the H and V bands exactly as the library does.
/// </summary>
public sealed class DwtDctWatermark(DwtDctEmbedMode mode = DwtDctEmbedMode.CarrierPreserving)
{
    public const double Scale = 36;
    public const int Block = 4;

    /// <summary>imwatermark refuses images with fewer pixels than this.</summary>
    public const int MinimumPixels = 256 * 256;

    /// <summary>How far above every other coefficient a preserved carrier stays, in LL units.</summary>
    private const double CarrierHeadroom = 6;

    public DwtDctEmbedMode Mode { get; } = mode;

    /// <summary>Number of 4×4 LL blocks, i.e. how many times a payload of length L is repeated (divided by L).</summary>
    public static int BlockCount(int width, int height) => (height / 4 * 2 / Block) * (width / 4 * 2 / Block);

    public static bool CanCarry(int width, int height, int bitCount) =>
        (long)width * height >= MinimumPixels && BlockCount(width, height) >= bitCount;

    public void Embed(Image<Rgba32> image, IReadOnlyList<bool> bits)
    {
        ArgumentOutOfRangeException.ThrowIfZero(bits.Count);
        if (!CanCarry(image.Width, image.Height, bits.Count))
        {
            throw new ArgumentException($"A {image.Width}×{image.Height} image cannot carry {bits.Count} bits (at least 256×256 pixels needed).", nameof(image));
        }

        var planes = YuvPlanes.FromImage(image);
        var rows = image.Height / 4 * 4;
        var cols = image.Width / 4 * 4;
        var llRows = rows / 2;
        var llCols = cols / 2;
        var ll = new double[llRows * llCols];
        var hd = new double[ll.Length];
        var vd = new double[ll.Length];
        var dd = new double[ll.Length];
        for (var i = 0; i < llRows; i++)
        {
            for (var j = 0; j < llCols; j++)
            {
                var (a, b, c, d) = planes.UQuad(2 * i, 2 * j);
                var k = (i * llCols) + j;
                (ll[k], hd[k], vd[k], dd[k]) = PywtHaar.Forward(a, b, c, d);
            }
        }

        var coefficients = new double[Block * Block];
        var n = 0;
        for (var bi = 0; bi < llRows / Block; bi++)
        {
            for (var bj = 0; bj < llCols / Block; bj++)
            {
                ReadBlock(ll, llCols, bi, bj, coefficients);
                var carrier = CarrierIndex(coefficients);
                var value = coefficients[carrier];
                var bit = bits[n % bits.Count] ? 1 : 0;
                var target = Mode == DwtDctEmbedMode.ImwatermarkExact
                    ? Quantise(value, bit, FloorDivide(Math.Abs(value), Scale))
                    : QuantiseAboveOthers(coefficients, carrier, bit);
                ll[((bi * Block) + (carrier / Block)) * llCols + (bj * Block) + (carrier % Block)] = target;
                n++;
            }
        }

        for (var i = 0; i < llRows; i++)
        {
            for (var j = 0; j < llCols; j++)
            {
                var k = (i * llCols) + j;
                var (a, b, c, d) = PywtHaar.Inverse(ll[k], vd[k], hd[k], dd[k]);
                planes.SetUQuad(2 * i, 2 * j, ToByte(a), ToByte(b), ToByte(c), ToByte(d));
            }
        }

        planes.WriteTo(image);
    }

    /// <summary>Per-bit share of blocks reading 1; <see cref="WatermarkReading.Bits"/> applies the library's threshold.</summary>
    public static WatermarkReading Decode(Image<Rgba32> image, int bitCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bitCount, 1);
        if (!CanCarry(image.Width, image.Height, bitCount))
        {
            return new WatermarkReading(new double[bitCount], 0);
        }

        var planes = YuvPlanes.FromImage(image);
        var llRows = image.Height / 4 * 2;
        var llCols = image.Width / 4 * 2;
        var ll = new double[llRows * llCols];
        for (var i = 0; i < llRows; i++)
        {
            for (var j = 0; j < llCols; j++)
            {
                var (a, b, c, d) = planes.UQuad(2 * i, 2 * j);
                ll[(i * llCols) + j] = PywtHaar.LowLow(a, b, c, d);
            }
        }

        var ones = new int[bitCount];
        var counts = new int[bitCount];
        var coefficients = new double[Block * Block];
        var n = 0;
        for (var bi = 0; bi < llRows / Block; bi++)
        {
            for (var bj = 0; bj < llCols / Block; bj++)
            {
                ReadBlock(ll, llCols, bi, bj, coefficients);
                var value = Math.Abs(coefficients[CarrierIndex(coefficients)]);
                var slot = n % bitCount;
                counts[slot]++;
                if (value % Scale > 0.5 * Scale)
                {
                    ones[slot]++;
                }

                n++;
            }
        }

        var shares = new double[bitCount];
        for (var i = 0; i < bitCount; i++)
        {
            shares[i] = (double)ones[i] / counts[i];
        }

        return new WatermarkReading(shares, n);
    }

    private static void ReadBlock(double[] ll, int llCols, int bi, int bj, double[] block)
    {
        for (var r = 0; r < Block; r++)
        {
            Array.Copy(ll, ((bi * Block) + r) * llCols + (bj * Block), block, r * Block, Block);
        }
    }

    /// <summary><c>np.argmax(abs(block.flatten()[1:])) + 1</c>: the first largest magnitude, DC excluded.</summary>
    private static int CarrierIndex(double[] block)
    {
        var best = 1;
        for (var i = 2; i < block.Length; i++)
        {
            if (Math.Abs(block[i]) > Math.Abs(block[best]))
            {
                best = i;
            }
        }

        return best;
    }

    private static double Quantise(double value, int bit, double level)
    {
        var magnitude = (level + 0.25 + (0.5 * bit)) * Scale;
        return value >= 0.0 ? magnitude : -1.0 * magnitude;
    }

    private static double QuantiseAboveOthers(double[] block, int carrier, int bit)
    {
        var strongestOther = 0.0;
        for (var i = 1; i < block.Length; i++)
        {
            if (i != carrier)
            {
                strongestOther = Math.Max(strongestOther, Math.Abs(block[i]));
            }
        }

        var level = FloorDivide(Math.Abs(block[carrier]), Scale);
        while ((level + 0.25 + (0.5 * bit)) * Scale <= strongestOther + CarrierHeadroom)
        {
            level++;
        }

        return Quantise(block[carrier], bit, level);
    }

    /// <summary>numpy's float floor division (fmod based), which differs from Math.Floor(a / b) near multiples of b.</summary>
    private static double FloorDivide(double a, double b)
    {
        var mod = a % b;
        var div = (a - mod) / b;
        if (mod != 0 && (b < 0) != (mod < 0))
        {
            div -= 1.0;
        }

        if (div == 0)
        {
            return 0.0;
        }

        var floor = Math.Floor(div);
        return div - floor > 0.5 ? floor + 1.0 : floor;
    }

    /// <summary>numpy's float64 → uint8 store truncates and wraps; carrier-preserving mode saturates instead.</summary>
    private byte ToByte(double value) => Mode == DwtDctEmbedMode.ImwatermarkExact
        ? unchecked((byte)(int)value)
        : (byte)Math.Clamp((int)value, 0, 255);

    private sealed class YuvPlanes
    {
        private readonly int width;
        private readonly byte[] y;
        private readonly byte[] u;
        private readonly byte[] v;

        private YuvPlanes(int width, int height)
        {
            this.width = width;
            y = new byte[width * height];
            u = new byte[width * height];
            v = new byte[width * height];
        }

        public static YuvPlanes FromImage(Image<Rgba32> image)
        {
            var planes = new YuvPlanes(image.Width, image.Height);
            image.ProcessPixelRows(accessor =>
            {
                for (var y = 0; y < accessor.Height; y++)
                {
                    var row = accessor.GetRowSpan(y);
                    var offset = y * planes.width;
                    for (var x = 0; x < row.Length; x++)
                    {
                        var p = row[x];
                        (planes.y[offset + x], planes.u[offset + x], planes.v[offset + x]) = OpenCvYuv.FromBgr(p.B, p.G, p.R);
                    }
                }
            });
            return planes;
        }

        public (double A, double B, double C, double D) UQuad(int row, int col)
        {
            var top = (row * width) + col;
            var bottom = top + width;
            return (u[top], u[top + 1], u[bottom], u[bottom + 1]);
        }

        public void SetUQuad(int row, int col, byte a, byte b, byte c, byte d)
        {
            var top = (row * width) + col;
            var bottom = top + width;
            (u[top], u[top + 1], u[bottom], u[bottom + 1]) = (a, b, c, d);
        }

        public void WriteTo(Image<Rgba32> image) => image.ProcessPixelRows(accessor =>
        {
            for (var y = 0; y < accessor.Height; y++)
            {
                var row = accessor.GetRowSpan(y);
                var offset = y * width;
                for (var x = 0; x < row.Length; x++)
                {
                    var (b, g, r) = OpenCvYuv.ToBgr(this.y[offset + x], u[offset + x], v[offset + x]);
                    row[x] = new Rgba32(r, g, b, row[x].A);
                }
            }
        });
    }
}
