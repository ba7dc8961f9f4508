namespace FluxWeb.Inference.Packages;

public sealed class ModelStoreOptions
{
    public const string SectionName = "FluxWeb";

    /// <summary>Folder holding one sub-folder per model package. Relative paths resolve against the working directory.</summary>
    public string ModelsDirectory { get; set; } = "models";

    public string ResolveModelsDirectory() => Path.GetFullPath(ModelsDirectory);
}
