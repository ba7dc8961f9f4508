namespace FluxWeb.Provenance.Decoding;

public enum UnsafeImageReason
{
    Empty,
    TooLarge,
    UnsupportedFormat,
    Truncated,
    Corrupt,
    DimensionsTooLarge,
    TrailingData,
    ResourceLimit,
}
