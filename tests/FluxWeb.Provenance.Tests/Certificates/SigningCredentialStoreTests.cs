using System.Security.Cryptography.X509Certificates;
using FluxWeb.Provenance.Certificates;
using FluxWeb.Provenance.Tests.Support;
using FluxWeb.Provenance.Watermarking;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Provenance.Tests.Certificates;

public sealed class SigningCredentialStoreTests : IDisposable
{
    private readonly TempDataFolder data = new();
    private readonly CapturingLogger log = new();

    [Fact]
    public void The_generated_chain_satisfies_the_c2pa_certificate_profile()
    {
        var (root, signer) = LocalCertificateAuthority.Create("profile", DateTimeOffset.UtcNow);
        using var _ = root;
        using var __ = signer;

        Assert.Empty(C2paCertificateProfile.Problems(signer, DateTimeOffset.UtcNow));
        var eku = signer.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value);
        Assert.Equal([C2paCertificateProfile.ClaimSigningOid, C2paCertificateProfile.EmailProtectionOid], eku);
        var keyUsage = signer.Extensions.OfType<X509KeyUsageExtension>().Single();
        Assert.True(keyUsage.Critical);
        Assert.Equal(X509KeyUsageFlags.DigitalSignature, keyUsage.KeyUsages);
        Assert.False(signer.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.True(root.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.Equal(root.Subject, signer.Issuer);
        Assert.NotEmpty(C2paCertificateProfile.Problems(root, DateTimeOffset.UtcNow));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void First_start_creates_a_local_authority_says_so_and_later_starts_reuse_it()
    {
        var first = Store().GetCredentials();
        var second = Store().GetCredentials();

        Assert.Equal(first.Signer.Thumbprint, second.Signer.Thumbprint);
        Assert.Contains(log.Messages, m => m.Contains("created a local certificate authority", StringComparison.Ordinal));
        Assert.Single(log.Messages, m => m.Contains("created a local certificate authority", StringComparison.Ordinal));
        var folder = Path.Combine(data.Path, "keys", "c2pa");
        Assert.StartsWith("local CA in", first.Source, StringComparison.Ordinal);
        foreach (var key in new[] { SigningCredentialStore.RootKeyFile, SigningCredentialStore.SigningKeyFile })
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(folder, key)));
        }

        var anchors = Store().LoadTrustAnchors();
        Assert.Equal(first.Signer.Issuer, Assert.Single(anchors).Subject);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Processes_sharing_a_data_folder_that_all_sign_their_first_output_at_once_get_one_authority()
    {
        // The processes of a cluster share the data folder; two workers finishing their first jobs together failed
        // both jobs with "root-ca.key.pem already exists" (the published cluster's failover run, 2026-12-05).
        const int processes = 6;
        using var start = new Barrier(processes);
        // A thread each (not pool threads, which the barrier would hold until the pool grew).
        var signers = await Task.WhenAll(Enumerable.Range(0, processes).Select(_ => Task.Factory.StartNew(
            () =>
            {
                var store = Store();
                start.SignalAndWait();
                return store.GetCredentials().Signer.Thumbprint;
            },
            TaskCreationOptions.LongRunning)));

        Assert.Single(signers.Distinct());
        Assert.Single(log.Messages, m => m.Contains("created a local certificate authority", StringComparison.Ordinal));
        var keys = Path.Combine(data.Path, "keys");
        Assert.Equal(["c2pa"], Directory.EnumerateFileSystemEntries(keys).Select(Path.GetFileName).Where(n => n != "installation-id"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(keys, "c2pa")));
        Assert.Equal(signers[0], Store().GetCredentials().Signer.Thumbprint);
    }

    [Fact]
    public void An_empty_authority_folder_left_by_an_interrupted_start_is_replaced_and_an_incomplete_one_is_explained()
    {
        var folder = Path.Combine(data.Path, "keys", "c2pa");
        Directory.CreateDirectory(folder);
        Assert.StartsWith("local CA in", Store().GetCredentials().Source, StringComparison.Ordinal);

        File.Delete(Path.Combine(folder, SigningCredentialStore.SigningKeyFile));
        var error = Assert.Throws<InvalidOperationException>(() => Store().GetCredentials());
        Assert.Contains("is incomplete", error.Message, StringComparison.Ordinal);
        Assert.Contains(SigningCredentialStore.SigningKeyFile, error.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(folder, SigningCredentialStore.RootKeyFile)), "the old root key must never be replaced");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void What_a_process_that_died_while_creating_the_authority_left_is_removed_but_a_creation_in_progress_is_not(bool authorityExists)
    {
        var keys = Path.Combine(data.Path, "keys");
        if (authorityExists)
        {
            Store().GetCredentials();
        }

        var abandoned = Staging(keys, DateTime.UtcNow - SigningCredentialStore.AbandonedStagingAge - TimeSpan.FromMinutes(1));
        var inProgress = Staging(keys, DateTime.UtcNow - TimeSpan.FromSeconds(5));

        Assert.StartsWith("local CA in", Store().GetCredentials().Source, StringComparison.Ordinal);

        Assert.False(Directory.Exists(abandoned), "an abandoned staging folder (private keys nobody uses) is removed");
        Assert.True(Directory.Exists(inProgress), "another process's creation in progress is left alone");
        Assert.Contains(log.Messages, m => m.Contains(abandoned, StringComparison.Ordinal));

        static string Staging(string keys, DateTime writtenUtc)
        {
            var folder = Path.Combine(keys, $".c2pa-{Guid.NewGuid():N}.tmp");
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, SigningCredentialStore.RootKeyFile), "-----BEGIN PRIVATE KEY-----\n");
            Directory.SetLastWriteTimeUtc(folder, writtenUtc);
            return folder;
        }
    }

    [Fact]
    public void Configured_pem_files_are_used_instead()
    {
        var (root, signer) = LocalCertificateAuthority.Create("organisation", DateTimeOffset.UtcNow);
        var chain = Path.Combine(data.Path, "org-chain.pem");
        var key = Path.Combine(data.Path, "org.key.pem");
        var anchors = Path.Combine(data.Path, "org-root.pem");
        File.WriteAllText(chain, signer.ExportCertificatePem());
        File.WriteAllText(key, signer.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(anchors, root.ExportCertificatePem());

        var store = Store(new C2paOptions { CertificateChainPath = chain, PrivateKeyPath = key, TrustAnchorsPath = anchors });

        Assert.Equal(signer.Thumbprint, store.GetCredentials().Signer.Thumbprint);
        Assert.StartsWith("configured PEM", store.GetCredentials().Source, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(data.Path, "keys", "c2pa")));
        Assert.Equal(root.Thumbprint, Assert.Single(store.LoadTrustAnchors()).Thumbprint);
    }

    [Fact]
    public void A_certificate_outside_the_profile_is_refused_with_the_reasons()
    {
        using var key = System.Security.Cryptography.ECDsa.Create();
        var request = new CertificateRequest("CN=self-signed", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        using var selfSigned = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(10));
        var chain = Path.Combine(data.Path, "bad.pem");
        var keyPath = Path.Combine(data.Path, "bad.key.pem");
        File.WriteAllText(chain, selfSigned.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());

        var error = Assert.Throws<InvalidOperationException>(() => Store(new C2paOptions { CertificateChainPath = chain, PrivateKeyPath = keyPath }).GetCredentials());

        Assert.Contains("KeyUsage must be critical", error.Message, StringComparison.Ordinal);
        Assert.Contains("ExtendedKeyUsage is missing", error.Message, StringComparison.Ordinal);
        Assert.Contains("self-signed", error.Message, StringComparison.Ordinal);
    }

    public void Dispose() => data.Dispose();

    private SigningCredentialStore Store(C2paOptions? options = null) => new(
        Options.Create(options ?? new C2paOptions()),
        Options.Create(new ProvenanceStorageOptions { DataDirectory = data.Path }),
        new InstallationIdentity("store-tests"),
        log,
        TimeProvider.System);

    private sealed class CapturingLogger : ILogger<SigningCredentialStore>
    {
        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Messages.Add(formatter(state, exception));
    }
}
