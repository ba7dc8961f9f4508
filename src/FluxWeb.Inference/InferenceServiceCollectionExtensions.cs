using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Pipeline;
using Microsoft.Extensions.DependencyInjection.Extensions;
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
        services.AddOptions<ModelDownloadOptions>()
            .BindConfiguration(ModelDownloadOptions.SectionName)
            .Validate(o => Uri.TryCreate(o.HuggingFaceEndpoint, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https", "Models:HuggingFaceEndpoint must be an http(s) address.")
            .Validate(o => o.Retries >= 0 && o.RetryDelay >= TimeSpan.Zero && o.StallTimeout > TimeSpan.Zero, "Models:Retries, RetryDelay and StallTimeout must not be negative (StallTimeout positive).")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ExecutionDeviceProbe>();
        // A host that is started (the web app, `generate --user`) learns its device at start; Device=Cuda refuses to start without one.
        services.AddHostedService<InferenceStartup>();
        services.AddSingleton<ModelCatalog>();
        services.AddSingleton<SessionFactory>();
        services.AddSingleton<MemoryBudget>();
        services.AddSingleton<ResidentSessions>();
        // The inference singleton: one per process, the only owner of ONNX Runtime sessions.
        services.AddSingleton<InferenceEngine>();
        services.AddSingleton<IImageGenerator>(sp => sp.GetRequiredService<InferenceEngine>());
        // The queue's workers, one per device; tests that replace the generator get it on the one device.
        services.TryAddSingleton<IDeviceEngines, SingleDeviceEngines>();
        services.AddSingleton<ModelUsage>();
        return services;
    }

    /// <summary>
    /// The web app's background warm start (<see cref="WarmStart"/>): only the server loads models
    /// ahead of jobs; command-line tools load what they use.
    /// </summary>
    public static IServiceCollection AddInferenceWarmStart(this IServiceCollection services)
    {
        services.AddSingleton<WarmStart>();
        services.AddHostedService(sp => sp.GetRequiredService<WarmStart>());
        return services;
    }
}
