using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace FluxWeb.Provenance.Certificates;

/// <summary>Creates a private root CA and a C2PA signing certificate issued by it (ECDSA P-256).</summary>
public static class LocalCertificateAuthority
{
    public static (X509Certificate2 Root, X509Certificate2 Signer) Create(string installationName, DateTimeOffset now)
    {
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootRequest = new CertificateRequest($"CN=FluxWeb Local C2PA Root ({installationName}), O=FluxWeb", rootKey, HashAlgorithmName.SHA256);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        rootRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var rootSki = new X509SubjectKeyIdentifierExtension(rootRequest.PublicKey, false);
        rootRequest.CertificateExtensions.Add(rootSki);
        rootRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(rootSki));
        var root = rootRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(20));

        using var signerKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var signerRequest = new CertificateRequest($"CN=FluxWeb C2PA Signer ({installationName}), O=FluxWeb", signerKey, HashAlgorithmName.SHA256);
        signerRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        signerRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        signerRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(C2paCertificateProfile.ClaimSigningOid), new Oid(C2paCertificateProfile.EmailProtectionOid)], false));
        signerRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(signerRequest.PublicKey, false));
        signerRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(root, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var signerPublic = signerRequest.Create(root, now.AddMinutes(-5), now.AddYears(10), serial);
        return (root, signerPublic.CopyWithPrivateKey(signerKey));
    }
}
