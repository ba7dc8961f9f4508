using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using FluxWeb.Provenance.Watermarking;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Provenance.Certificates;

/// <summary>Loads the configured signing credentials, or creates and then reuses a local CA in the data folder.</summary>
public sealed partial class SigningCredentialStore(
    IOptions<C2paOptions> options,
    IOptions<ProvenanceStorageOptions> storage,
    InstallationIdentity installation,
    ILogger<SigningCredentialStore> logger,
    TimeProvider timeProvider)
{
    public const string RootCertificateFile = "root-ca.pem";
    public const string RootKeyFile = "root-ca.key.pem";
    public const string SigningChainFile = "signing-chain.pem";
    public const string SigningKeyFile = "signing.key.pem";
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly Lock gate = new();
    private SigningCredentials? credentials;

    public string LocalAuthorityDirectory => Path.Combine(storage.Value.ResolveKeysDirectory(), "c2pa");

    public SigningCredentials GetCredentials()
    {
        lock (gate)
        {
            return credentials ??= Load();
        }
    }

    /// <summary>Configured anchors plus, unless switched off, the local root (when one exists).</summary>
    public IReadOnlyList<X509Certificate2> LoadTrustAnchors()
    {
        var anchors = new X509Certificate2Collection();
        var configured = options.Value.TrustAnchorsPath;
        if (!string.IsNullOrWhiteSpace(configured))
        {
            anchors.ImportFromPemFile(configured);
        }

        var localRoot = Path.Combine(LocalAuthorityDirectory, RootCertificateFile);
        if (options.Value.TrustLocalRoot && File.Exists(localRoot))
        {
            anchors.ImportFromPemFile(localRoot);
        }

        return anchors.ToList();
    }

    private SigningCredentials Load()
    {
        var settings = options.Value;
        var credentials = settings.HasPfx
            ? SigningCredentials.FromPfx(settings.PfxPath!, settings.PfxPassword)
            : settings.HasPemPair
                ? SigningCredentials.FromPem(File.ReadAllText(settings.CertificateChainPath!), File.ReadAllText(settings.PrivateKeyPath!), $"configured PEM {settings.CertificateChainPath}")
                : LoadOrCreateLocal();
        var problems = C2paCertificateProfile.Problems(credentials.Signer, timeProvider.GetUtcNow());
        if (problems.Count > 0)
        {
            credentials.Dispose();
            throw new InvalidOperationException(
                $"The C2PA signing certificate does not fit the C2PA certificate profile: {string.Join("; ", problems)}. " +
                "Validators would report every output as Invalid. See src/FluxWeb.Provenance/README.md, \"Content Credentials\".");
        }

        LogUsing(logger, credentials.Source, credentials.Signer.Subject, credentials.Signer.NotAfter);
        return credentials;
    }

    private SigningCredentials LoadOrCreateLocal()
    {
        var folder = LocalAuthorityDirectory;
        var chainPath = Path.Combine(folder, SigningChainFile);
        var keyPath = Path.Combine(folder, SigningKeyFile);
        var source = $"local CA in {folder}";
        if (File.Exists(chainPath) && File.Exists(keyPath))
        {
            return SigningCredentials.FromPem(File.ReadAllText(chainPath), File.ReadAllText(keyPath), source);
        }

        Directory.CreateDirectory(folder);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(folder, OwnerOnly | UnixFileMode.UserExecute);
        }

        var (root, signer) = LocalCertificateAuthority.Create(installation.Id[..Math.Min(8, installation.Id.Length)], timeProvider.GetUtcNow());
        using (root)
        {
            using var rootKey = root.GetECDsaPrivateKey()!;
            using var signerKey = signer.GetECDsaPrivateKey()!;
            WritePrivate(Path.Combine(folder, RootKeyFile), rootKey.ExportPkcs8PrivateKeyPem());
            WritePrivate(keyPath, signerKey.ExportPkcs8PrivateKeyPem());
            File.WriteAllText(Path.Combine(folder, RootCertificateFile), root.ExportCertificatePem() + "\n");
            File.WriteAllText(chainPath, signer.ExportCertificatePem() + "\n");
        }

        LogCreatedLocalAuthority(logger, folder);
        return new SigningCredentials(signer, [], source);
    }

    private static void WritePrivate(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnly;
        }

        using var writer = new StreamWriter(path, System.Text.Encoding.ASCII, options);
        writer.Write(content + "\n");
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "No C2PA signing certificate configured: created a local certificate authority and signing certificate in {Folder}. Outputs are signed but validate as untrusted outside this installation until an organisation certificate is configured (src/FluxWeb.Provenance/README.md, \"Content Credentials\")")]
    private static partial void LogCreatedLocalAuthority(ILogger logger, string folder);

    [LoggerMessage(Level = LogLevel.Information, Message = "C2PA manifests are signed with {Source}: {Subject}, valid until {NotAfter:u}")]
    private static partial void LogUsing(ILogger logger, string source, string subject, DateTime notAfter);
}
