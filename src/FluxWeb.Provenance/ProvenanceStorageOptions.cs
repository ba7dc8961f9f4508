namespace FluxWeb.Provenance;

/// <summary>Where provenance keeps its files; shares the host's <c>FluxWeb:DataDirectory</c>.</summary>
public sealed class ProvenanceStorageOptions
{
    public const string SectionName = "FluxWeb";

    public string DataDirectory { get; set; } = "data";

    /// <summary>The host's <c>FluxWeb:ModelsDirectory</c>; the image classifier package lives under it by default.</summary>
    public string ModelsDirectory { get; set; } = "models";

    public string ResolveClassifiersDirectory(Filters.ContentFilterOptions filters) =>
        Path.GetFullPath(string.IsNullOrWhiteSpace(filters.ClassifierDirectory) ? Path.Combine(ModelsDirectory, "safety") : filters.ClassifierDirectory);

    public string ResolveKeysDirectory() => Path.Combine(Path.GetFullPath(DataDirectory), "keys");
}
