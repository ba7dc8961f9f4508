namespace FluxWeb.Provenance.Watermarking;

/// <summary>
/// One-level 2-D Haar transform computed with PyWavelets' exact floating-point operations (filter taps
/// ±0.7071067811865476, rows first, then columns), so that quantisation decisions match imwatermark to the bit.
/// Bands follow pywt naming: LL ('aa'), H ('da'), V ('ad'), D ('dd').
/// </summary>
internal static class PywtHaar
{
    private const double H = 0.7071067811865476;

    /// <summary>Forward transform of the 2×2 block [[a, b], [c, d]].</summary>
    public static (double LL, double Hd, double Vd, double Dd) Forward(double a, double b, double c, double d)
    {
        var lowLeft = (H * c) + (H * a);
        var lowRight = (H * d) + (H * b);
        var highLeft = (H * a) - (H * c);
        var highRight = (H * b) - (H * d);
        var ll = (H * lowRight) + (H * lowLeft);
        var vd = (H * lowLeft) - (H * lowRight);
        var hd = (H * highRight) + (H * highLeft);
        var dd = (H * highLeft) - (H * highRight);
        return (ll, hd, vd, dd);
    }

    public static double LowLow(double a, double b, double c, double d) => (H * ((H * d) + (H * b))) + (H * ((H * c) + (H * a)));

    /// <summary>Inverse transform, columns first then rows, as <c>pywt.idwt2</c> does.</summary>
    public static (double A, double B, double C, double D) Inverse(double ll, double hd, double vd, double dd)
    {
        var lowLeft = (H * ll) + (H * vd);
        var lowRight = (H * ll) - (H * vd);
        var highLeft = (H * hd) + (H * dd);
        var highRight = (H * hd) - (H * dd);
        return ((H * lowLeft) + (H * highLeft), (H * lowRight) + (H * highRight), (H * lowLeft) - (H * highLeft), (H * lowRight) - (H * highRight));
    }
}
