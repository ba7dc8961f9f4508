namespace FluxWeb.Host.Components.Pages.Gallery;

/// <summary>
/// The Studio's deep links that the gallery and history navigate to. The Studio owns what they do
/// (it fills its form only after the user confirms, so the current form is not clobbered).
/// </summary>
public static class StudioLinks
{
    /// <summary>Every parameter of the job that made the image.</summary>
    public static string Settings(Guid imageId) => $"/studio?settings={imageId}";

    /// <summary>The image as a reference image of a new request.</summary>
    public static string Reference(Guid imageId) => $"/studio?reference={imageId}";

    /// <summary>The image as the source of a masked edit.</summary>
    public static string Edit(Guid imageId) => $"/studio?edit={imageId}";

    /// <summary>Just the prompt text, for prompts without an image to take the settings from.</summary>
    public static string Prompt(string prompt) => $"/studio?prompt={Uri.EscapeDataString(prompt)}";
}
