using FluxWeb.Domain.Time;
using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace FluxWeb.Inference;

public static class InferenceServiceCollectionExtensions
{
    public static IServiceCollection AddInference(this IServiceCollection services)
    {
        services.AddOptions<InferenceOptions>()
            .BindConfiguration(InferenceOptions.SectionName)
            .PostConfigure<IConfiguration>(ReadDevicesValue)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<InferenceOptions>, DeviceSettingsValidation>();
        services.AddOptions<ModelStoreOptions>()
            .BindConfiguration(ModelStoreOptions.SectionName)
            .Validate(o => !string.IsNullOrWhiteSpace(o.ModelsDirectory), "FluxWeb:ModelsDirectory must not be empty.")
            .ValidateOnStart();
        services.AddOptions<ModelDownloadOptions>()
            .BindConfiguration(ModelDownloadOptions.SectionName)
            .Validate(o => Uri.TryCreate(o.HuggingFaceEndpoint, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https", "Models:HuggingFaceEndpoint must be an http(s) address.")
            .Validate(o => o.Retries >= 0 && o.RetryDelay >= TimeSpan.Zero && o.StallTimeout > TimeSpan.Zero, "Models:Retries, RetryDelay and StallTimeout must not be negative (StallTimeout positive).")
            .ValidateOnStart();
        services.TryAddSingleton(AppClock.Real);
        services.TryAddSingleton<ICudaDeviceQuery, CudaNative>();
        services.AddSingleton<DevicePlan>();
        // The first device's probe is the process's: what /healthz, the catalog and warm start ask about.
        services.AddSingleton(sp => sp.GetRequiredService<DevicePlan>().Primary);
        // A host that is started (the web app, `generate --user`) learns its devices at start; a device that must work refuses to start without it.
        services.AddHostedService<InferenceStartup>();
        services.AddSingleton<ModelCatalog>();
        services.AddSingleton<SessionFactory>();
        services.AddSingleton<MemoryBudget>();
        services.AddSingleton<ResidentSessions>();
        // The first device's engine: the only owner of ONNX Runtime sessions on that device.
        services.AddSingleton<InferenceEngine>();
        services.AddSingleton<IImageGenerator>(sp => sp.GetRequiredService<InferenceEngine>());
        // The queue's workers, one per device, each device with an engine of its own; tests that replace the generator get it on every device.
        services.TryAddSingleton<IDeviceGeneratorFactory, EngineStacks>();
        services.TryAddSingleton<IDeviceEngines, DeviceEngines>();
        services.AddSingleton<ModelUsage>();
        return services;
    }

    /// <summary>
    /// <c>Inference:Devices</c> also as one value (<c>Inference__Devices=cuda:0,cuda:1</c>, <c>=all</c>), which the
    /// binder leaves out of a list; the list forms (JSON array, <c>Inference__Devices__0</c>) bind as usual.
    /// </summary>
    private static void ReadDevicesValue(InferenceOptions options, IConfiguration configuration)
    {
        if (configuration.GetSection(InferenceOptions.SectionName).GetSection(nameof(InferenceOptions.Devices)).Value is { } value)
        {
            options.Devices = [value];
        }
    }

    /// <summary>The device settings' problem, in its own words (a fixed message could not name the entry at fault).</summary>
    private sealed class DeviceSettingsValidation : IValidateOptions<InferenceOptions>
    {
        public ValidateOptionsResult Validate(string? name, InferenceOptions options) =>
            DeviceSelection.Problem(options) is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
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
