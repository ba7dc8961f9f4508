namespace FluxWeb.Host.Components.Pages.Studio;

public static class StudioServiceCollectionExtensions
{
    /// <summary>
    /// The Studio's state, per circuit: the form survives visits to other pages of the same tab, and
    /// the session holds what the page shows. Its application services come from their own modules.
    /// </summary>
    public static IServiceCollection AddStudio(this IServiceCollection services)
    {
        services.AddScoped<StudioDraft>();
        services.AddScoped<StudioSession>();
        services.AddScoped<StudioLoop>();
        services.AddScoped<PresetState>();
        return services;
    }
}
