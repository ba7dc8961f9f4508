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
            return new InstallationIdentity(File.ReadAllText(path).Trim());
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var id = Guid.NewGuid().ToString("D");
        File.WriteAllText(path, id + "\n");
        LogCreated(logger, id, path);
        return new InstallationIdentity(id);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created installation id {InstallationId} in {Path}; watermarks name this installation by it")]
    private static partial void LogCreated(ILogger logger, string installationId, string path);
}
