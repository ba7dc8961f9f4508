using MudBlazor;

namespace FluxWeb.Host.Components.Layout;

internal static class FluxTheme
{
    public static MudTheme Theme { get; } = new()
    {
        PaletteLight = new PaletteLight
        {
            Primary = "#5b4bd6",
            Secondary = "#0f9d8a",
            AppbarBackground = "#1f1b3a",
            Background = "#f6f6fb",
        },
        PaletteDark = new PaletteDark
        {
            Primary = "#9d8fff",
            Secondary = "#4fd1bd",
            AppbarBackground = "#15131f",
            Background = "#1b1a22",
            Surface = "#24232d",
        },
        LayoutProperties = new LayoutProperties { DrawerWidthLeft = "232px" },
    };
}
