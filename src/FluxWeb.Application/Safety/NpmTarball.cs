using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace FluxWeb.Application.Safety;

/// <summary>A package tarball that cannot be used: wrong integrity, damaged, or not the package expected.</summary>
public sealed class ClassifierInstallException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Reads chosen files out of an npm package tarball (<c>.tgz</c>) in memory: nothing is extracted to
/// disk, so entry names cannot escape a folder; only regular files are read, each within a size cap.
/// Paths are relative to the package root (npm's <c>package/</c> folder).
/// </summary>
public static class NpmTarball
{
    public const long MaxEntryBytes = 64L * 1024 * 1024;

    public static Dictionary<string, byte[]> Read(byte[] tgz, Func<string, bool> wanted, string shownName)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        try
        {
            using var gzip = new GZipStream(new MemoryStream(tgz, writable: false), CompressionMode.Decompress);
            using var tar = new TarReader(gzip);
            while (tar.GetNextEntry() is { } entry)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
                {
                    continue;
                }

                var slash = entry.Name.IndexOf('/', StringComparison.Ordinal);
                var path = slash < 0 ? entry.Name : entry.Name[(slash + 1)..];
                if (!wanted(path))
                {
                    continue;
                }

                if (entry.Length > MaxEntryBytes || entry.DataStream is null)
                {
                    throw new ClassifierInstallException($"{shownName}: '{path}' is {entry.Length} bytes, more than the {MaxEntryBytes} a package file may have here.");
                }

                using var buffer = new MemoryStream((int)entry.Length);
                entry.DataStream.CopyTo(buffer);
                files[path] = buffer.ToArray();
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw new ClassifierInstallException($"{shownName} is not a readable npm package tarball ({ex.Message}).", ex);
        }

        return files;
    }

    /// <summary>npm's Subresource Integrity string for bytes: <c>sha512-</c> + base64.</summary>
    public static string Sha512Integrity(byte[] bytes) => "sha512-" + Convert.ToBase64String(SHA512.HashData(bytes));

    /// <summary>
    /// Checks bytes against an SRI string from the registry (one or more space-separated hashes).
    /// Only sha512 counts: a registry that gives none is refused, because sha1 no longer proves anything.
    /// </summary>
    public static void VerifyIntegrity(byte[] bytes, string? integrity, string shownName)
    {
        var expected = (integrity ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(h => h.StartsWith("sha512-", StringComparison.Ordinal)).ToList();
        if (expected.Count == 0)
        {
            throw new ClassifierInstallException($"{shownName}: the registry gives no sha512 integrity for it ('{integrity}'), so it cannot be verified; not installed.");
        }

        var actual = Sha512Integrity(bytes);
        // Option suffixes ("sha512-…?foo") are allowed by SRI; compare the digest only.
        if (!expected.Any(e => CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(e.Split('?')[0]), System.Text.Encoding.ASCII.GetBytes(actual))))
        {
            throw new ClassifierInstallException($"integrity check failed for {shownName}: the registry says {expected[0]}, the downloaded file is {actual}. Nothing was installed; the download was corrupted or tampered with.");
        }
    }
}
