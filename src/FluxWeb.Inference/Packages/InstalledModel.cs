namespace FluxWeb.Inference.Packages;

/// <summary>A folder under the models directory: either a package that loads, or the reason it does not.</summary>
public sealed record InstalledModel(string Id, string Folder, ModelPackageManifest? Manifest, string? Error)
{
    public bool IsUsable => Manifest is not null && Error is null;
}
