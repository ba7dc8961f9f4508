namespace FluxWeb.Provenance.C2pa;

public enum C2paValidationState
{
    /// <summary>No manifest in the file.</summary>
    Absent,

    /// <summary>Manifest intact and correctly signed, by a certificate that does not chain to a trust anchor.</summary>
    Valid,

    /// <summary>Valid, and the signing certificate chains to a configured trust anchor.</summary>
    Trusted,

    /// <summary>A manifest is present but the file, the manifest or its signature does not check out.</summary>
    Invalid,
}
