namespace FluxWeb.Provenance.Watermarking;

/// <summary>
/// OpenCV's 8-bit <c>COLOR_BGR2YUV</c> / <c>COLOR_YUV2BGR</c> (BT.601, 14-bit fixed point, IPP disabled as in the
/// official builds), reproduced integer for integer so that our planes equal the ones imwatermark works on.
/// </summary>
internal static class OpenCvYuv
{
    private const int Shift = 14;
    private const int Half = 1 << (Shift - 1);
    private const int R2Y = 4899;
    private const int G2Y = 9617;
    private const int B2Y = 1868;
    private const int B2U = 8061;
    private const int R2V = 14369;
    private const int U2B = 33292;
    private const int U2G = -6472;
    private const int V2G = -9519;
    private const int V2R = 18678;

    public static (byte Y, byte U, byte V) FromBgr(int b, int g, int r)
    {
        var y = Descale((b * B2Y) + (g * G2Y) + (r * R2Y));
        var v = Descale(((r - y) * R2V) + (128 << Shift));
        var u = Descale(((b - y) * B2U) + (128 << Shift));
        return (Saturate(y), Saturate(u), Saturate(v));
    }

    public static (byte B, byte G, byte R) ToBgr(int y, int u, int v)
    {
        var b = y + Descale((u - 128) * U2B);
        var g = y + Descale(((u - 128) * U2G) + ((v - 128) * V2G));
        var r = y + Descale((v - 128) * V2R);
        return (Saturate(b), Saturate(g), Saturate(r));
    }

    private static int Descale(int value) => (value + Half) >> Shift;

    private static byte Saturate(int value) => (byte)Math.Clamp(value, 0, 255);
}
