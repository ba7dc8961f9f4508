namespace FluxWeb.Provenance.Watermarking;

/// <summary>The answer to "is this image marked, and by whom".</summary>
public sealed record WatermarkDetection(
    bool Present,
    string Bits,
    double Confidence,
    WatermarkPayload? Payload,
    bool FromThisInstallation,
    KnownWatermark? KnownMark,
    bool Inverted)
{
    /// <summary>The image serial when the mark is ours; the host maps it to its job.</summary>
    public long? Serial => FromThisInstallation ? Payload?.Serial : null;
}
