using System.ComponentModel.DataAnnotations;

namespace FluxWeb.Provenance.Watermarking;

public sealed class WatermarkOptions
{
    public const string SectionName = "Provenance:Watermark";

    public bool Enabled { get; set; } = true;

    /// <summary>Identifies this installation in every payload; empty means a GUID created once in the data folder.</summary>
    public string? InstallationId { get; set; }

    public DwtDctEmbedMode Mode { get; set; } = DwtDctEmbedMode.CarrierPreserving;

    /// <summary>
    /// Below this block agreement a checksum match is still reported as absent (0 = chance, 1 = perfect). Unmarked
    /// pictures measure 0.1–0.2, marked ones after JPEG q90 4:4:4 about 0.6 (bench/FluxWeb.Provenance.Robustness).
    /// </summary>
    [Range(0.0, 1.0)]
    public double MinimumConfidence { get; set; } = 0.25;
}
