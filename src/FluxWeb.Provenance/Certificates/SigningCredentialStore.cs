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
    private const string StagingPattern = ".c2pa-*.tmp";

    /// <summary>
    /// A staging folder older than this belongs to no creation in progress (writing one takes milliseconds): a process
    /// died while it wrote an authority that never took effect.
    /// </summary>
    public static readonly TimeSpan AbandonedStagingAge = TimeSpan.FromMinutes(10);

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

    /// <summary>
    /// The local authority of this data folder, created on first use. The processes of a cluster share the data folder
    /// and may all sign their first output at the same moment, so the authority is made whole in a folder of its own
    /// and then moved into place in one step; a process that finds it was beaten to it signs with the one that won, so
    /// every output of the installation chains to one root (docs/decisions/0026).
    /// </summary>
    private SigningCredentials LoadOrCreateLocal()
    {
        var folder = LocalAuthorityDirectory;
        var source = $"local CA in {folder}";
        RemoveAbandonedStaging(Path.GetDirectoryName(folder)!);
        if (TryLoadLocal(folder, source) is { } existing)
        {
            return existing;
        }

        // An empty folder (an older version stopped before writing into it) is not an authority: take its place.
        if (Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any())
        {
            try
            {
                Directory.Delete(folder);
            }
            catch (IOException)
            {
                // Another process removed it, or has just moved its authority into place: the move below finds out.
            }
        }

        var staging = Path.Combine(Path.GetDirectoryName(folder)!, StagingPattern.Replace("*", $"{Guid.NewGuid():N}", StringComparison.Ordinal));
        Directory.CreateDirectory(staging);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(staging, OwnerOnly | UnixFileMode.UserExecute);
        }

        var (root, signer) = LocalCertificateAuthority.Create(installation.Id[..Math.Min(8, installation.Id.Length)], timeProvider.GetUtcNow());
        using (root)
        {
            using var rootKey = root.GetECDsaPrivateKey()!;
            using var signerKey = signer.GetECDsaPrivateKey()!;
            WritePrivate(Path.Combine(staging, RootKeyFile), rootKey.ExportPkcs8PrivateKeyPem());
            WritePrivate(Path.Combine(staging, SigningKeyFile), signerKey.ExportPkcs8PrivateKeyPem());
            File.WriteAllText(Path.Combine(staging, RootCertificateFile), root.ExportCertificatePem() + "\n");
            File.WriteAllText(Path.Combine(staging, SigningChainFile), signer.ExportCertificatePem() + "\n");
        }

        try
        {
            Directory.Move(staging, folder);
        }
        catch (IOException) when (Directory.Exists(folder))
        {
            signer.Dispose();
            Directory.Delete(staging, recursive: true);
            return TryLoadLocal(folder, source) ?? throw new InvalidOperationException(
                $"The local C2PA authority in {folder} is incomplete: it needs {SigningChainFile} and {SigningKeyFile}. "
                + "Move the folder away (keep its root-ca.pem if outputs signed with it must still verify) and start again to create a new one, "
                + "or configure an organisation certificate (src/FluxWeb.Provenance/README.md, \"Content Credentials\").");
        }

        LogCreatedLocalAuthority(logger, folder);
        return new SigningCredentials(signer, [], source);
    }

    /// <summary>
    /// Removes what a process that died while creating the authority left: private keys of an authority nobody uses.
    /// Only old ones, so another process's creation in progress is left alone.
    /// </summary>
    private void RemoveAbandonedStaging(string keysFolder)
    {
        if (!Directory.Exists(keysFolder))
        {
            return;
        }

        var cutoff = timeProvider.GetUtcNow().UtcDateTime - AbandonedStagingAge;
        foreach (var staging in Directory.EnumerateDirectories(keysFolder, StagingPattern))
        {
            if (Directory.GetLastWriteTimeUtc(staging) >= cutoff)
            {
                continue;
            }

            try
            {
                Directory.Delete(staging, recursive: true);
                LogRemovedAbandonedStaging(logger, staging);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Another process removed it first, or it is not ours to remove: harmless either way.
            }
        }
    }

    private static SigningCredentials? TryLoadLocal(string folder, string source)
    {
        var chainPath = Path.Combine(folder, SigningChainFile);
        var keyPath = Path.Combine(folder, SigningKeyFile);
        return File.Exists(chainPath) && File.Exists(keyPath)
            ? SigningCredentials.FromPem(File.ReadAllText(chainPath), File.ReadAllText(keyPath), source)
            : null;
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Folder}, a local C2PA authority that a process stopped writing before it took effect")]
    private static partial void LogRemovedAbandonedStaging(ILogger logger, string folder);

    [LoggerMessage(Level = LogLevel.Information, Message = "C2PA manifests are signed with {Source}: {Subject}, valid until {NotAfter:u}")]
    private static partial void LogUsing(ILogger logger, string source, string subject, DateTime notAfter);
}
