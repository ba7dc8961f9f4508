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
/// </summary>
public sealed partial class WarmStart(
    ExecutionDeviceProbe devices,
    ModelCatalog catalog,
    ModelUsage usage,
    InferenceEngine engine,
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

            LogWarming(logger, model.Id);
            var elapsed = await engine.WarmAsync(model.Id, stoppingToken);
            LogWarm(logger, model.Id, elapsed.TotalSeconds);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (InferenceFailedException ex)
        {
            // A model that cannot load now will say so again, with its reason, on its first job.
            LogFailed(logger, ex.Message);
        }
        finally
        {
            completion.TrySetResult();
        }
    }

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

    [LoggerMessage(Level = LogLevel.Information, Message = "Warm start: loading {Package} in the background")]
    private static partial void LogWarming(ILogger logger, string package);

    [LoggerMessage(Level = LogLevel.Information, Message = "Warm start: {Package} is loaded ({Seconds:F1} s)")]
    private static partial void LogWarm(ILogger logger, string package, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Warm start skipped: {Reason}")]
    private static partial void LogSkipped(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Warm start failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
