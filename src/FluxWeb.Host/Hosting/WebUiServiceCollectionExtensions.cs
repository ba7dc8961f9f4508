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
        // A fresh install's first question (why can nobody generate?) answered in the start-up log.
        services.AddHostedService<FirstRunHint>();
        return services;
    }
}
