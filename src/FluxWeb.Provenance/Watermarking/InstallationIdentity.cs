using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Provenance.Watermarking;

/// <summary>A stable id for this installation: configured, or created once as <c>&lt;data&gt;/keys/installation-id</c>.</summary>
public sealed partial class InstallationIdentity
{
    public InstallationIdentity(string id)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        Id = id;
    }

    public string Id { get; }

    public static InstallationIdentity Resolve(IOptions<WatermarkOptions> watermark, IOptions<ProvenanceStorageOptions> storage, ILogger<InstallationIdentity> logger)
    {
        if (!string.IsNullOrWhiteSpace(watermark.Value.InstallationId))
        {
            return new InstallationIdentity(watermark.Value.InstallationId);
        }

        var path = Path.Combine(storage.Value.ResolveKeysDirectory(), "installation-id");
        if (File.Exists(path))
        {
            return new InstallationIdentity(ReadWritten(path));
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var id = Guid.NewGuid().ToString("D");
        try
        {
            // Created only if nobody did first (O_EXCL): the processes of a cluster share the data folder and may all
            // start for the first time at once; the one that loses uses the winner's id (docs/decisions/0026).
            using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read);
            file.Write(System.Text.Encoding.ASCII.GetBytes(id + "\n"));
        }
        catch (IOException) when (File.Exists(path))
        {
            return new InstallationIdentity(ReadWritten(path));
        }

        LogCreated(logger, id, path);
        return new InstallationIdentity(id);
    }

    /// <summary>The id in <paramref name="path"/>; a file another process has only just created gets a moment to be written.</summary>
    private static string ReadWritten(string path)
    {
        for (var wait = Stopwatch.StartNew(); ; Thread.Sleep(20))
        {
            var id = File.ReadAllText(path).Trim();
            if (id.Length > 0)
            {
                return id;
            }

            if (wait.Elapsed > TimeSpan.FromSeconds(5))
            {
                throw new InvalidOperationException($"The installation id file {path} is empty. Delete it to create a new id, or set Provenance:Watermark:InstallationId; watermarks name this installation by it.");
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created installation id {InstallationId} in {Path}; watermarks name this installation by it")]
    private static partial void LogCreated(ILogger logger, string installationId, string path);
}
