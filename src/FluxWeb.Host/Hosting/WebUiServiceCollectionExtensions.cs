using FluxWeb.Host.Components.Pages.Studio;
using MudBlazor.Services;

namespace FluxWeb.Host.Hosting;

internal static class WebUiServiceCollectionExtensions
{
    public static IServiceCollection AddWebUi(this IServiceCollection services)
    {
        services.AddRazorComponents()
            .AddInteractiveServerComponents();
        services.AddMudServices();
        services.AddStudio();
        return services;
    }
}
