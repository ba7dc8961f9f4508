using FluxWeb.Provenance.Certificates;
using Microsoft.Extensions.Options;

namespace FluxWeb.Provenance.C2pa;

/// <summary>C2PA signing as configured: loads the credentials on first use, passes bytes through when disabled.</summary>
public sealed class ContentCredentials(IOptions<C2paOptions> options, SigningCredentialStore store)
{
    private readonly Lazy<C2paSigner> signer = new(() => new C2paSigner(store.GetCredentials()));

    public bool Enabled => options.Value.Enabled;

    /// <summary>Where the signing certificate comes from and whom it names, for logs and the admin page.</summary>
    public string Describe() => Enabled
        ? $"{signer.Value.Credentials.Signer.Subject} ({signer.Value.Credentials.Source})"
        : "C2PA signing is off (Provenance:C2pa:Enabled = false).";

    public byte[] Sign(byte[] asset, ManifestDescription description) => Enabled ? signer.Value.Sign(asset, description) : asset;
}
