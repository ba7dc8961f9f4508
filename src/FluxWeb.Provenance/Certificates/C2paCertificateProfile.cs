using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace FluxWeb.Provenance.Certificates;

/// <summary>The C2PA signing-certificate profile (C2PA 2.2 §14.5), as independent validators enforce it.</summary>
public static class C2paCertificateProfile
{
    public const string ClaimSigningOid = "1.3.6.1.4.1.62558.2.1";
    public const string EmailProtectionOid = "1.3.6.1.5.5.7.3.4";
    public const string DocumentSigningOid = "1.3.6.1.5.5.7.3.36";
    private const string AnyExtendedKeyUsageOid = "2.5.29.37.0";
    private const string TimeStampingOid = "1.3.6.1.5.5.7.3.8";
    private const string OcspSigningOid = "1.3.6.1.5.5.7.3.9";
    private const string MicrosoftC2paSigningOid = "1.3.6.1.4.1.311.76.59.1.9";

    /// <summary>Every way <paramref name="certificate"/> breaks the profile at <paramref name="at"/>; empty when it fits.</summary>
    public static IReadOnlyList<string> Problems(X509Certificate2 certificate, DateTimeOffset at)
    {
        var problems = new List<string>();
        if (certificate.Version != 3)
        {
            problems.Add("not an X.509 v3 certificate");
        }

        if (at < certificate.NotBefore || at > certificate.NotAfter)
        {
            problems.Add($"not valid at {at:u} (valid {certificate.NotBefore:u} to {certificate.NotAfter:u})");
        }

        if (certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is { CertificateAuthority: true })
        {
            problems.Add("is a CA certificate");
        }

        var keyUsage = certificate.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault();
        if (keyUsage is null || !keyUsage.Critical || !keyUsage.KeyUsages.HasFlag(X509KeyUsageFlags.DigitalSignature))
        {
            problems.Add("KeyUsage must be critical and include digitalSignature");
        }
        else if (keyUsage.KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign))
        {
            problems.Add("KeyUsage keyCertSign is not allowed on a signing certificate");
        }

        var eku = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault();
        var usages = eku?.EnhancedKeyUsages.Cast<Oid>().Select(oid => oid.Value).ToHashSet() ?? [];
        if (eku is null)
        {
            problems.Add("ExtendedKeyUsage is missing");
        }
        else if (usages.Contains(AnyExtendedKeyUsageOid))
        {
            problems.Add("ExtendedKeyUsage anyExtendedKeyUsage is not allowed");
        }
        else if (!usages.Overlaps([ClaimSigningOid, EmailProtectionOid, DocumentSigningOid, MicrosoftC2paSigningOid]))
        {
            problems.Add("ExtendedKeyUsage must include C2PA claim signing, emailProtection or documentSigning");
        }

        if (usages.Contains(TimeStampingOid) || usages.Contains(OcspSigningOid))
        {
            problems.Add("ExtendedKeyUsage timeStamping/OCSPSigning is not allowed on a signing certificate");
        }

        if (certificate.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().FirstOrDefault() is null)
        {
            problems.Add("AuthorityKeyIdentifier is missing");
        }

        if (certificate.Subject == certificate.Issuer)
        {
            problems.Add("is self-signed");
        }

        if (certificate.GetECDsaPublicKey() is { } ec)
        {
            using (ec)
            {
                if (ec.KeySize is not (256 or 384 or 521))
                {
                    problems.Add("ECDSA key must use P-256, P-384 or P-521");
                }
            }
        }
        else if (certificate.GetRSAPublicKey() is { } rsa)
        {
            using (rsa)
            {
                if (rsa.KeySize < 2048)
                {
                    problems.Add("RSA key must be at least 2048 bits");
                }
            }
        }
        else
        {
            problems.Add("key must be ECDSA or RSA (.NET COSE has no EdDSA)");
        }

        return problems;
    }
}
