using FluxWeb.Provenance;
using FluxWeb.Provenance.Filters;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Safety;

/// <summary>
/// Image filtering on by default: on a server's start with no classifier installed (and no operator
/// classifier configured), installs nsfwjs in the background while the server already serves. Until it
/// is on, /healthz and the admin page say "installing", outputs are delivered marked "not checked";
/// if it fails (offline, registry down) filtering stays off with the reason and how to fix it, and the
/// server keeps running.
/// </summary>
public sealed partial class ImageClassifierAutoInstall(
    ImageContentFilter filter,
    ImageClassifierInstaller installer,
    IOptions<ContentFilterOptions> options,
    IOptions<ProvenanceStorageOptions> storage,
    ILogger<ImageClassifierAutoInstall> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (filter.Classifier is not null || !string.IsNullOrWhiteSpace(settings.ImageClassifierPath)
            || ImageClassifierLoader.IsInstalled(settings, storage.Value.ResolveClassifiersDirectory(settings)))
        {
            return;
        }

        if (!settings.AutoInstall)
        {
            filter.SetStatus(ImageClassifierLoader.Off($"no classifier installed, and Provenance:Filters:AutoInstall is false. To turn it on, {ImageClassifierLoader.InstallHint}."));
            LogOff(logger, filter.Status.Description);
            return;
        }

        // Said before the first await, so no request after start-up sees a plain "off" while it installs.
        filter.SetStatus(new ImageFilterStatus(ImageFilterState.Installing,
            $"Image filtering is installing: downloading nsfwjs {settings.ClassifierVersion} from {settings.Registry} and converting it. Until it is on, outputs are delivered marked \"not checked\"."));
        LogInstalling(logger, settings.ClassifierVersion, settings.Registry);
        // The server finishes starting meanwhile; the install takes a few seconds of CPU.
        await Task.Yield();
        try
        {
            var installed = await installer.InstallFromRegistryAsync(cancellationToken: stoppingToken);
            filter.Activate(new PackagedImageClassifier(installed.Folder));
            LogOn(logger, filter.Status.Description);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            filter.SetStatus(ImageClassifierLoader.Off("the install was interrupted by the server stopping; it starts again with the server."));
        }
        catch (Exception ex) when (ex is ClassifierInstallException or IOException or UnauthorizedAccessException or InvalidDataException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            filter.SetStatus(ImageClassifierLoader.Off($"the classifier could not be installed automatically: {ex.Message} To fix it, {ImageClassifierLoader.InstallHint}."));
            LogFailed(logger, ex, filter.Status.Description);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "No image classifier installed: installing nsfwjs {Version} from {Registry} in the background")]
    private static partial void LogInstalling(ILogger logger, string version, string registry);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Status}")]
    private static partial void LogOn(ILogger logger, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Status}")]
    private static partial void LogOff(ILogger logger, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Status}")]
    private static partial void LogFailed(ILogger logger, Exception exception, string status);
}
