using MudBlazor;

namespace FluxWeb.Host.Components.Layout;

/// <summary>
/// The app's colours. Every colour that carries text, as text or behind it, meets WCAG AA (4.5:1)
/// against what it sits on: MudBlazor's stock status colours do not (white on its success green is
/// 2.2:1, on its warning orange 2.2:1, on its error red 3.7:1), nor does white on this dark theme's
/// light violet (2.7:1). The dark theme therefore writes dark text on its light primary and status
/// colours, as Material's dark themes do. ContrastTests in the browser tests checks the pages.
/// </summary>
internal static class FluxTheme
{
    private const string DarkInk = "#15131f";

    public static MudTheme Theme { get; } = new()
    {
        PaletteLight = new PaletteLight
        {
            Primary = "#5b4bd6",
            Secondary = "#0b7566",
            Success = "#2e7d32",
            Warning = "#b45309",
            Error = "#c62828",
            Info = "#1565c0",
            TextSecondary = "rgba(0,0,0,0.6)",
            AppbarBackground = "#1f1b3a",
            Background = "#f6f6fb",
        },
        PaletteDark = new PaletteDark
        {
            Primary = "#9d8fff",
            PrimaryContrastText = DarkInk,
            Secondary = "#4fd1bd",
            SecondaryContrastText = DarkInk,
            SuccessContrastText = DarkInk,
            WarningContrastText = DarkInk,
            ErrorContrastText = DarkInk,
            InfoContrastText = DarkInk,
            AppbarBackground = "#15131f",
            Background = "#1b1a22",
            Surface = "#24232d",
        },
        LayoutProperties = new LayoutProperties { DrawerWidthLeft = "232px" },
    };
}
