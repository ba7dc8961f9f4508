namespace FluxWeb.Provenance.Decoding;

public enum ImageContainerFormat
{
    Png,
    Jpeg,
    Webp,
}
