namespace FluxWeb.Provenance.Watermarking;

public enum DwtDctEmbedMode
{
    /// <summary>
    /// Moves each block's carrier coefficient to the nearest level that keeps it the block's largest, so the public
    /// decoder finds it again on smooth content; U values are clamped instead of wrapping. Decodes with the public
    /// decoder unchanged.
    /// </summary>
    CarrierPreserving,

    /// <summary>imwatermark 0.2.0 <c>dwtDct</c> byte for byte, including its uint8 wrap-around; kept to prove compatibility.</summary>
    ImwatermarkExact,
}
