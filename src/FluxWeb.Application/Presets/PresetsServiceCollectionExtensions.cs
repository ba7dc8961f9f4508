using FluxWeb.Domain.Time;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace FluxWeb.Application.Presets;

public static class PresetsServiceCollectionExtensions
{
    /// <summary>Saved prompt/style presets per account and those administrators publish. Needs AddJobs (models, limits) and AddAdministration.</summary>
    public static IServiceCollection AddPresets(this IServiceCollection services)
    {
        services.AddSingleton<PresetService>();
        services.TryAddSingleton(AppClock.Real);
        return services;
    }
}
