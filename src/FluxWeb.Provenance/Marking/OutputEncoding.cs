namespace FluxWeb.Provenance.Marking;

public enum OutputEncoding
{
    Png,

    /// <summary>Quality 95, 4:4:4: keeps the watermark at full strength (see the robustness bench).</summary>
    Jpeg,
}
