namespace FluxWeb.Host.Components.Pages.Studio;

public enum PresetDialogMode
{
    Save,

    /// <summary>Like <see cref="Save"/>, for a preset that exists: what it holds is replaced with the form's.</summary>
    Update,
    Rename,
    Publish,
}
