using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Packages;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Inference.Engine;

/// <summary>
/// Loads a model's text encoder, transformer and VAE decoder in the background when the web app
/// starts, so the first job after a restart does not wait minutes for gigabytes of weights. On a
/// GPU it picks the most used package (<see cref="ModelUsage"/>) unless <c>Inference:WarmStart</c>
/// names one or says <c>None</c>; on the CPU (where loading is quick) only a named package is loaded.
/// It takes the engine's turn like a job, so a job that arrives meanwhile waits for it, not beside it.
/// With several devices every device's engine loads it, side by side, so no worker's first job waits.
/// </summary>
public sealed partial class WarmStart(
    ExecutionDeviceProbe devices,
    ModelCatalog catalog,
    ModelUsage usage,
    IDeviceEngines engines,
    IOptions<InferenceOptions> options,
    ILogger<WarmStart> logger) : BackgroundService
{
    public const string MostUsed = "MostUsed";
    public const string None = "None";

    /// <summary>Completes when the warm start has done what it will (tests and bench/gpu wait on it).</summary>
    public Task Completion => completion.Task;

    private readonly TaskCompletionSource completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            var model = await Task.Run(Choose, stoppingToken);
            if (model is null)
            {
                return;
            }

            // Only now: listing the engines probes every device, which nothing needs yet when nothing is loaded.
            var targets = await Task.Run(Engines, stoppingToken);

            LogWarming(logger, model.Id, targets.Count);
            await Task.WhenAll(targets.Select(async target =>
            {
                try
                {
                    var elapsed = await target.Engine.WarmAsync(model.Id, stoppingToken);
                    LogWarm(logger, model.Id, target.DeviceId, elapsed.TotalSeconds);
                }
                catch (InferenceFailedException ex)
                {
                    // A model that cannot load now will say so again, with its reason, on its first job.
                    LogFailed(logger, target.DeviceId, ex.Message);
                }
            }));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            completion.TrySetResult();
        }
    }

    /// <summary>The engines of the devices this process serves (a replaced generator is not an engine: nothing to load).</summary>
    private List<(string DeviceId, InferenceEngine Engine)> Engines() =>
        engines.Engines.Where(e => e.Generator is InferenceEngine).Select(e => (e.DeviceId, (InferenceEngine)e.Generator)).ToList();

    /// <summary>The package to load, or null (with the reason logged).</summary>
    internal InstalledModel? Choose()
    {
        var setting = options.Value.WarmStart?.Trim() ?? "";
        if (setting.Length == 0 || string.Equals(setting, None, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        if (string.Equals(setting, MostUsed, StringComparison.OrdinalIgnoreCase) && options.Value.Device == DevicePreference.Cpu)
        {
            return null; // Loading on the CPU takes seconds; a named package still warms.
        }

        var installed = catalog.List();
        if (!string.Equals(setting, MostUsed, StringComparison.OrdinalIgnoreCase))
        {
            var named = installed.FirstOrDefault(m => string.Equals(m.Id, setting, StringComparison.Ordinal));
            if (named is null || !named.IsUsable)
            {
                LogSkipped(logger, $"Inference:WarmStart names '{setting}', which {(named is null ? "is not installed" : $"cannot be used: {named.Problem}")}");
                return null;
            }

            return named;
        }

        if (!devices.Device.IsCuda)
        {
            return null;
        }

        var chosen = usage.MostUsed(installed);
        if (chosen is null)
        {
            LogSkipped(logger, "no package has generated an image yet");
        }

        return chosen;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Warm start: loading {Package} in the background on {Devices} device(s)")]
    private static partial void LogWarming(ILogger logger, string package, int devices);

    [LoggerMessage(Level = LogLevel.Information, Message = "Warm start: {Package} is loaded on {Device} ({Seconds:F1} s)")]
    private static partial void LogWarm(ILogger logger, string package, string device, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Warm start skipped: {Reason}")]
    private static partial void LogSkipped(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Warm start failed on {Device}: {Reason}")]
    private static partial void LogFailed(ILogger logger, string device, string reason);
}
