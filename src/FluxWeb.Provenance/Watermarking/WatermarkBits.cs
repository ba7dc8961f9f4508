namespace FluxWeb.Provenance.Watermarking;

public static class WatermarkBits
{
    public static string ToString(IEnumerable<bool> bits) => string.Concat(bits.Select(bit => bit ? '1' : '0'));

    public static bool[] Parse(string bits) => bits.Select(c => c switch
    {
        '1' => true,
        '0' => false,
        _ => throw new FormatException($"'{c}' is not a bit."),
    }).ToArray();

    public static int Differences(IReadOnlyList<bool> a, IReadOnlyList<bool> b)
    {
        var count = Math.Abs(a.Count - b.Count);
        for (var i = 0; i < Math.Min(a.Count, b.Count); i++)
        {
            count += a[i] == b[i] ? 0 : 1;
        }

        return count;
    }
}
