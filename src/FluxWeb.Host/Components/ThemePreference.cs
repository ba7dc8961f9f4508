namespace FluxWeb.Host.Components;

/// <summary>The dark/light choice, kept in a cookie so the server can render the right theme before any script runs.</summary>
public static class ThemePreference
{
    public const string CookieName = "fluxweb.theme";
    public const string CascadingName = "DarkMode";
    public const string Dark = "dark";
    public const string Light = "light";

    /// <summary>True or false when the user chose; null when they never did (then the system setting decides).</summary>
    public static bool? Parse(string? cookieValue) => cookieValue switch
    {
        Dark => true,
        Light => false,
        _ => null,
    };

    public static string ToCookieValue(bool dark) => dark ? Dark : Light;
}
