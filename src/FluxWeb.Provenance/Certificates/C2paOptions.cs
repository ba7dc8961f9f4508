namespace FluxWeb.Provenance.Certificates;

/// <summary>
/// Signing key and chain for C2PA manifests. Give either a PFX, or a PEM chain (signing certificate first, then
/// intermediates, no root) plus a PEM private key. With neither, a local CA and signing certificate are created in
/// <c>&lt;data&gt;/keys/c2pa</c> on first use.
/// </summary>
public sealed class C2paOptions
{
    public const string SectionName = "Provenance:C2pa";

    public bool Enabled { get; set; } = true;

    public string? CertificateChainPath { get; set; }

    public string? PrivateKeyPath { get; set; }

    public string? PfxPath { get; set; }

    public string? PfxPassword { get; set; }

    /// <summary>PEM bundle of roots that make a manifest "Trusted" in <c>fluxweb verify</c>.</summary>
    public string? TrustAnchorsPath { get; set; }

    /// <summary>Also trust the local root FluxWeb created, so this installation's own outputs verify as Trusted.</summary>
    public bool TrustLocalRoot { get; set; } = true;

    internal bool HasPemPair => !string.IsNullOrWhiteSpace(CertificateChainPath) && !string.IsNullOrWhiteSpace(PrivateKeyPath);

    internal bool HasPfx => !string.IsNullOrWhiteSpace(PfxPath);
}
