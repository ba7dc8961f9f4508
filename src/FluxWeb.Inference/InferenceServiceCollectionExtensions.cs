using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Packages;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Inference;

public static class InferenceServiceCollectionExtensions
{
    public static IServiceCollection AddInference(this IServiceCollection services)
    {
        services.AddOptions<InferenceOptions>().BindConfiguration(InferenceOptions.SectionName).ValidateOnStart();
        services.AddOptions<ModelStoreOptions>()
            .BindConfiguration(ModelStoreOptions.SectionName)
            .Validate(o => !string.IsNullOrWhiteSpace(o.ModelsDirectory), "FluxWeb:ModelsDirectory must not be empty.")
            .ValidateOnStart();
        services.AddSingleton<ExecutionDeviceProbe>();
        services.AddSingleton<ModelCatalog>();
        return services;
    }
}
