namespace FluxWeb.Provenance;

/// <summary>Where provenance keeps its files; shares the host's <c>FluxWeb:DataDirectory</c>.</summary>
public sealed class ProvenanceStorageOptions
{
    public const string SectionName = "FluxWeb";

    public string DataDirectory { get; set; } = "data";

    public string ResolveKeysDirectory() => Path.Combine(Path.GetFullPath(DataDirectory), "keys");
}
