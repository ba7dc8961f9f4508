namespace FluxWeb.Host.Components.Pages.Studio;

public enum PresetDialogMode
{
    Save,
    Rename,
    Publish,
}
