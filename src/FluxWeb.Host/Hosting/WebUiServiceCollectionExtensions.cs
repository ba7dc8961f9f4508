using MudBlazor.Services;

namespace FluxWeb.Host.Hosting;

internal static class WebUiServiceCollectionExtensions
{
    public static IServiceCollection AddWebUi(this IServiceCollection services)
    {
        services.AddRazorComponents()
            .AddInteractiveServerComponents();
        services.AddMudServices();
        return services;
    }
}
