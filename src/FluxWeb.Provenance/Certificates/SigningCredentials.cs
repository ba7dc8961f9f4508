using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace FluxWeb.Provenance.Certificates;

/// <summary>The signing certificate with its private key, the intermediates sent in x5chain, and where they came from.</summary>
public sealed class SigningCredentials : IDisposable
{
    public SigningCredentials(X509Certificate2 signer, IReadOnlyList<X509Certificate2> intermediates, string source)
    {
        if (!signer.HasPrivateKey)
        {
            throw new ArgumentException("The signing certificate has no private key.", nameof(signer));
        }

        Signer = signer;
        Intermediates = intermediates;
        Source = source;
    }

    public X509Certificate2 Signer { get; }

    /// <summary>Sent after the signer in x5chain; never the root.</summary>
    public IReadOnlyList<X509Certificate2> Intermediates { get; }

    /// <summary>For logs and the admin page: "configured (…)" or "local CA in …".</summary>
    public string Source { get; }

    public IEnumerable<byte[]> ChainDer() => new[] { Signer }.Concat(Intermediates).Select(certificate => certificate.RawData);

    public static SigningCredentials FromPem(string chainPem, string privateKeyPem, string source)
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPem(chainPem);
        if (certificates.Count == 0)
        {
            throw new CryptographicException("The certificate chain file holds no certificate.");
        }

        var leaf = certificates[0];
        X509Certificate2 signer;
        if (leaf.GetECDsaPublicKey() is not null)
        {
            using var key = ECDsa.Create();
            key.ImportFromPem(privateKeyPem);
            signer = leaf.CopyWithPrivateKey(key);
        }
        else
        {
            using var key = RSA.Create();
            key.ImportFromPem(privateKeyPem);
            signer = leaf.CopyWithPrivateKey(key);
        }

        return new SigningCredentials(signer, certificates.Skip(1).Where(c => c.Subject != c.Issuer).ToList(), source);
    }

    public static SigningCredentials FromPfx(string path, string? password)
    {
        var certificates = X509CertificateLoader.LoadPkcs12CollectionFromFile(path, password, X509KeyStorageFlags.EphemeralKeySet);
        var signer = certificates.FirstOrDefault(c => c.HasPrivateKey)
            ?? throw new CryptographicException($"{path} holds no certificate with a private key.");
        var intermediates = certificates.Where(c => c != signer && c.Subject != c.Issuer).ToList();
        return new SigningCredentials(signer, intermediates, $"configured PFX {path}");
    }

    public void Dispose()
    {
        Signer.Dispose();
        foreach (var certificate in Intermediates)
        {
            certificate.Dispose();
        }
    }
}
