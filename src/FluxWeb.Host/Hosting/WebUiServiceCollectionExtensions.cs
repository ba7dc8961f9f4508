using MudBlazor.Services;

namespace FluxWeb.Host.Hosting;

internal static class WebUiServiceCollectionExtensions
{
    public static IServiceCollection AddWebUi(this IServiceCollection services)
    {
        services.AddRazorComponents()
            .AddInteractiveServerComponents();
        services.AddMudServices();
        // Per circuit: the Studio's form survives visits to other pages of the same tab.
        services.AddScoped<Components.Pages.Studio.StudioDraft>();
        // A fresh install's first question (why can nobody generate?) answered in the start-up log.
        services.AddHostedService<FirstRunHint>();
        return services;
    }
}
