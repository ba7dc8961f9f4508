using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Inference.Packages;
using FluxWeb.Domain.Audit;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Models;

public enum DemoInstallState
{
    /// <summary>No install was started by this server since it started (the package may still exist: see <see cref="DemoModelInstaller.CurrentAsync"/>).</summary>
    NotStarted,
    Installing,
    Installed,
    Failed,
}

/// <summary>Where the demo install stands: the state, one sentence for the page, and the step it is on while installing.</summary>
public sealed record DemoInstallStatus(DemoInstallState State, string Message, string? Step = null);

/// <summary>
/// "Install the demo model" for administrators, in the server: what <c>fluxweb models create-demo</c>
/// does (the Apache-2.0 demo package, id <c>demo</c>), in the background while the page shows its
/// steps. One install at a time; an installed package is never rebuilt or replaced; each install is
/// audited with who asked and how it ended. Every call checks that the caller is an administrator now.
/// </summary>
public sealed partial class DemoModelInstaller(ModelCatalog catalog, AdminAuthorization admins, AuditLog audit, ILogger<DemoModelInstaller> logger)
{
    public const string ModelId = DemoPackage.DefaultId;

    private readonly Lock gate = new();
    private readonly List<Action<DemoInstallStatus>> listeners = [];
    private DemoInstallStatus status = new(DemoInstallState.NotStarted, "The demo model is not installed.");
    private Task completion = Task.CompletedTask;

    /// <summary>The install in progress, or the last one (for callers and tests that wait for the end).</summary>
    public Task Completion
    {
        get
        {
            lock (gate)
            {
                return completion;
            }
        }
    }

    /// <summary>The state as the page should show it: an install of this server's, else what the models folder holds.</summary>
    public async Task<DemoInstallStatus> CurrentAsync(ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        lock (gate)
        {
            if (status.State == DemoInstallState.Installing)
            {
                return status;
            }
        }

        return await Task.Run(FromDisk, cancellationToken) ?? NotOnDisk();
    }

    /// <summary>Calls <paramref name="listener"/> (on the installer's thread) whenever the status changes, until disposed.</summary>
    public IDisposable Subscribe(Action<DemoInstallStatus> listener)
    {
        lock (gate)
        {
            listeners.Add(listener);
        }

        return new Subscription(this, listener);
    }

    /// <summary>
    /// Starts installing the demo package unless it is installed or installing already (then says
    /// so, and nothing starts). Returns at once; <see cref="Subscribe"/> or <see cref="Completion"/> follow it.
    /// </summary>
    public async Task<DemoInstallStatus> StartAsync(ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        // Reads the models folder: off the caller's thread (a circuit's, on the admin page).
        var existing = await Task.Run(FromDisk, cancellationToken);
        DemoInstallStatus started;
        lock (gate)
        {
            if (status.State == DemoInstallState.Installing)
            {
                return status;
            }

            if (existing is not null)
            {
                status = existing;
                return status;
            }

            status = started = new DemoInstallStatus(DemoInstallState.Installing, "Installing the demo model…", "starting");
            // A few seconds of CPU writing weights and graphs, never on the caller's thread; it outlives the request that started it.
            completion = Task.Run(() => InstallAsync(actor), CancellationToken.None);
        }

        LogStarted(logger, actor.UserId ?? "the command line", catalog.ModelsDirectory);
        Notify(started);
        return started;
    }

    private async Task InstallAsync(ChangeActor actor)
    {
        try
        {
            var manifest = DemoPackage.Create(catalog.ModelsDirectory, ModelId, ModelLicence.Apache2(), DemoPackage.DefaultSeed, new StepProgress(this));
            var folder = Path.Combine(catalog.ModelsDirectory, manifest.Id);
            Set(new DemoInstallStatus(DemoInstallState.Installed,
                $"Installed {manifest.Label} ('{manifest.Id}', {manifest.Licence!.Id}): every feature works with it, and its images are noise (random weights)."));
            LogInstalled(logger, manifest.Id, folder);
            await audit.RecordAsync(new AuditEntry(AuditActions.AdminChange, actor.UserId)
            {
                ModelId = manifest.Id,
                Detail = $"Installed the demo model package '{manifest.Id}' ({manifest.Licence.Id}, random weights) in {folder}.",
                Channel = actor.Channel,
            });
        }
        catch (Exception ex)
        {
            // The background install's only witness is this status: whatever went wrong is reported, never lost.
            var reason = ex is InvalidOperationException or IOException or UnauthorizedAccessException or InvalidDataException
                ? ex.Message
                : $"{ex.GetType().Name}: {ex.Message}";
            Set(new DemoInstallStatus(DemoInstallState.Failed,
                $"The demo model could not be installed: {reason} Nothing was installed; fix the cause and try again, or run `fluxweb models create-demo` on the server."));
            LogFailed(logger, ex, catalog.ModelsDirectory);
            await audit.RecordAsync(new AuditEntry(AuditActions.AdminChange, actor.UserId)
            {
                ModelId = ModelId,
                Succeeded = false,
                Detail = $"Installing the demo model package '{ModelId}' failed: {reason}",
                Channel = actor.Channel,
            });
        }
    }

    /// <summary>What the models folder says about the demo package, or null when there is none.</summary>
    private DemoInstallStatus? FromDisk() => catalog.Find(ModelId) switch
    {
        null => null,
        { IsUsable: true } model => new DemoInstallStatus(DemoInstallState.Installed,
            $"The demo model is installed ({model.Manifest?.Label ?? ModelId}, '{ModelId}')."),
        { } model => new DemoInstallStatus(DemoInstallState.Failed,
            $"A package folder '{ModelId}' is in {catalog.ModelsDirectory} but does not load: {model.Error} Remove that folder to install the demo model again."),
    };

    /// <summary>No demo package on disk: this server's last failure (worth showing), else not installed, even if it was once (someone removed it since).</summary>
    private DemoInstallStatus NotOnDisk()
    {
        lock (gate)
        {
            return status.State == DemoInstallState.Failed ? status : new DemoInstallStatus(DemoInstallState.NotStarted, "The demo model is not installed.");
        }
    }

    private void Set(DemoInstallStatus next)
    {
        lock (gate)
        {
            status = next;
        }

        Notify(next);
    }

    private void Notify(DemoInstallStatus current)
    {
        Action<DemoInstallStatus>[] targets;
        lock (gate)
        {
            targets = [.. listeners];
        }

        foreach (var listener in targets)
        {
            listener(current);
        }
    }

    private sealed class StepProgress(DemoModelInstaller installer) : IProgress<string>
    {
        public void Report(string value) => installer.Set(new DemoInstallStatus(DemoInstallState.Installing, "Installing the demo model…", value));
    }

    private sealed class Subscription(DemoModelInstaller installer, Action<DemoInstallStatus> listener) : IDisposable
    {
        public void Dispose()
        {
            lock (installer.gate)
            {
                installer.listeners.Remove(listener);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Installing the demo model package for {Actor} in {ModelsDirectory}")]
    private static partial void LogStarted(ILogger logger, string actor, string modelsDirectory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Installed the demo model package '{ModelId}' in {Folder}")]
    private static partial void LogInstalled(ILogger logger, string modelId, string folder);

    [LoggerMessage(Level = LogLevel.Error, Message = "Installing the demo model package in {ModelsDirectory} failed")]
    private static partial void LogFailed(ILogger logger, Exception exception, string modelsDirectory);
}
