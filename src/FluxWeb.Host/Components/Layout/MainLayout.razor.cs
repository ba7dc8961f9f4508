using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using MudBlazor;

namespace FluxWeb.Host.Components.Layout;

public sealed partial class MainLayout : IAsyncDisposable
{
    private MudThemeProvider? themeProvider;
    private IJSObjectReference? themeModule;
    private bool drawerOpen = true;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    /// <summary>The user's stored choice (cookie), or null when they never chose.</summary>
    [CascadingParameter(Name = ThemePreference.CascadingName)]
    public bool? StoredDarkMode { get; set; }

    public bool IsDarkMode { get; private set; }

    protected override void OnInitialized()
    {
        IsDarkMode = StoredDarkMode ?? false;
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (firstRender && StoredDarkMode is null && themeProvider is not null)
        {
            var systemDark = await themeProvider.GetSystemDarkModeAsync();
            if (systemDark != IsDarkMode)
            {
                IsDarkMode = systemDark;
                StateHasChanged();
            }
        }
    }

    private void ToggleDrawer() => drawerOpen = !drawerOpen;

    private async Task ToggleThemeAsync()
    {
        IsDarkMode = !IsDarkMode;
        themeModule ??= await JS.InvokeAsync<IJSObjectReference>("import", "./js/theme.js");
        await themeModule.InvokeVoidAsync("saveTheme", ThemePreference.ToCookieValue(IsDarkMode));
    }

    public async ValueTask DisposeAsync()
    {
        if (themeModule is not null)
        {
            try
            {
                await themeModule.DisposeAsync();
            }
            catch (JSDisconnectedException)
            {
                // The circuit is gone; nothing to release in the browser.
            }
        }
    }
}
