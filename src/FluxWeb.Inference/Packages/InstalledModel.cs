namespace FluxWeb.Inference.Packages;

/// <summary>A folder under the models directory: either a package that loads, or the reason it does not.</summary>
public sealed record InstalledModel(string Id, string Folder, ModelPackageManifest? Manifest, string? Error)
{
    /// <summary>
    /// Why this server's inference device cannot run the package although the package itself is sound
    /// (e.g. bf16 compute on a CPU). The package still verifies; it becomes usable on a device that can.
    /// </summary>
    public string? DeviceProblem { get; init; }

    public bool IsUsable => Manifest is not null && Error is null && DeviceProblem is null;

    /// <summary>Why the package cannot be used here (a broken package first, then the device), or null.</summary>
    public string? Problem => Error ?? DeviceProblem;
}
