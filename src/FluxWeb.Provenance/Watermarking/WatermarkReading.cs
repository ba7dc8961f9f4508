namespace FluxWeb.Provenance.Watermarking;

/// <summary>What the decoder saw: for each payload bit, the share of blocks that read 1.</summary>
public sealed record WatermarkReading(IReadOnlyList<double> OneShares, int BlockCount)
{
    /// <summary>The library's decision <c>mean * 255 &gt; 127</c>.</summary>
    public bool[] Bits => OneShares.Select(share => share * 255 > 127).ToArray();

    public string BitString => WatermarkBits.ToString(Bits);

    /// <summary>Mean agreement of the blocks with their bit's majority: 0 for coin flips, 1 when every block agrees.</summary>
    public double Confidence => BlockCount == 0 ? 0 : OneShares.Average(share => Math.Abs(share - 0.5) * 2);
}
