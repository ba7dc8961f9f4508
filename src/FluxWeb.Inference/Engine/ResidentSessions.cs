using FluxWeb.Inference.Packages;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace FluxWeb.Inference.Engine;

/// <summary>A loaded component as the engine reports it (health, admin pages).</summary>
public sealed record ResidentComponent(string PackageId, ModelComponent Component, long EstimatedBytes, DateTimeOffset LastUsed);

/// <summary>
/// The ONNX Runtime sessions the engine keeps loaded, within a memory budget. Loading takes seconds
/// to minutes, so nothing that fits is ever reloaded: when a new session would overflow the budget,
/// idle sessions go first from other packages (least recently used), then this package's text
/// encoder and VAE; the transformer of the package in use stays. Sessions that failed are disposed
/// so the next job gets a fresh one.
/// </summary>
public sealed partial class ResidentSessions(SessionFactory factory, IOptions<InferenceOptions> options, TimeProvider time, ILogger<ResidentSessions> logger) : IDisposable
{
    private readonly Lock gate = new();
    private readonly Dictionary<(string Package, ModelComponent Component), Entry> sessions = [];

    private sealed class Entry(InferenceSession session, long bytes, string folder)
    {
        public InferenceSession Session { get; } = session;

        public long Bytes { get; } = bytes;

        public string Folder { get; } = folder;

        public DateTimeOffset LastUsed { get; set; }
    }

    public long BudgetBytes => options.Value.BudgetBytes(factory.Device.IsCuda);

    public SessionFactory Factory => factory;

    /// <summary>Raised (under the lock) just before a session is disposed: whoever holds device memory allocated through it must free that first.</summary>
    public event Action<InferenceSession>? Removing;

    public IReadOnlyList<ResidentComponent> Snapshot()
    {
        lock (gate)
        {
            return sessions.Select(s => new ResidentComponent(s.Key.Package, s.Key.Component, s.Value.Bytes, s.Value.LastUsed)).OrderBy(r => r.PackageId, StringComparer.Ordinal).ThenBy(r => r.Component).ToList();
        }
    }

    /// <summary>The session for one component, loading it (and making room) when needed.</summary>
    public InferenceSession Get(InstalledModel model, ModelComponent component, CancellationToken cancellationToken)
    {
        var manifest = model.Manifest ?? throw new InferenceFailedException(InferenceFailure.ModelUnavailable, $"Model '{model.Id}' cannot be used: {model.Error}");
        var key = (model.Id, component);
        lock (gate)
        {
            if (sessions.TryGetValue(key, out var existing) && existing.Folder == model.Folder)
            {
                existing.LastUsed = time.GetUtcNow();
                return existing.Session;
            }

            if (existing is not null)
            {
                // The package was rebuilt in place (same id, new files): drop the stale session.
                Remove(key);
            }

            var info = Component(manifest, component);
            var bytes = EstimateBytes(manifest, info);
            MakeRoom(model.Id, component, bytes);
            LogLoading(logger, component, model.Id, bytes / (1 << 20));
            var started = time.GetTimestamp();
            InferenceSession session;
            try
            {
                session = factory.Create(
                    Path.Combine(model.Folder, info.File),
                    cancellationToken,
                    quantizedWeights: component == ModelComponent.Transformer && manifest.Precision.Weights is "fp8" or "nvfp4");
            }
            catch (OnnxRuntimeException ex)
            {
                throw EngineFailures.FromLoad(ex, model.Id, component);
            }

            LogLoaded(logger, component, model.Id, time.GetElapsedTime(started).TotalSeconds);
            sessions[key] = new Entry(session, bytes, model.Folder) { LastUsed = time.GetUtcNow() };
            return session;
        }
    }

    /// <summary>Disposes a session that failed (or all of them after running out of memory) so the next use recreates it.</summary>
    public void Discard(string packageId, ModelComponent component)
    {
        lock (gate)
        {
            Remove((packageId, component));
        }
    }

    public void DiscardAll()
    {
        lock (gate)
        {
            foreach (var key in sessions.Keys.ToList())
            {
                Remove(key);
            }
        }
    }

    public static ComponentInfo Component(ModelPackageManifest manifest, ModelComponent component) => component switch
    {
        ModelComponent.TextEncoder => manifest.Components.TextEncoder!,
        ModelComponent.Transformer => manifest.Components.Transformer!,
        ModelComponent.VaeEncoder => manifest.Components.VaeEncoder!,
        _ => manifest.Components.VaeDecoder!,
    };

    /// <summary>Stored bytes, doubled when float32 compute widens 16-bit weights at load (FP8 stays FP8: its dequantisation is not folded).</summary>
    internal static long EstimateBytes(ModelPackageManifest manifest, ComponentInfo component)
    {
        var widened = manifest.Precision.Compute == "fp32" && manifest.Precision.Weights is "bf16" or "fp16";
        return component.WeightBytes * (widened ? 2 : 1);
    }

    private void MakeRoom(string packageId, ModelComponent component, long needed)
    {
        var budget = BudgetBytes;
        long Used() => sessions.Values.Sum(e => e.Bytes);
        var candidates = sessions
            .Where(s => !(s.Key.Package == packageId && s.Key.Component == ModelComponent.Transformer))
            .OrderBy(s => s.Key.Package == packageId ? 1 : 0)
            .ThenBy(s => s.Key.Package == packageId ? (int)s.Key.Component : 0)
            .ThenBy(s => s.Value.LastUsed)
            .Select(s => s.Key)
            .ToList();
        foreach (var key in candidates)
        {
            if (Used() + needed <= budget)
            {
                return;
            }

            LogEvicting(logger, key.Component, key.Package);
            Remove(key);
        }

        if (Used() + needed > budget)
        {
            LogOverBudget(logger, component, packageId, (Used() + needed) / (1 << 20), budget / (1 << 20));
        }
    }

    private void Remove((string, ModelComponent) key)
    {
        if (sessions.Remove(key, out var entry))
        {
            Removing?.Invoke(entry.Session);
            entry.Session.Dispose();
        }
    }

    public void Dispose() => DiscardAll();

    [LoggerMessage(Level = LogLevel.Information, Message = "Loading {Component} of {Package} (~{Megabytes} MB)")]
    private static partial void LogLoading(ILogger logger, ModelComponent component, string package, long megabytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded {Component} of {Package} in {Seconds:F1} s")]
    private static partial void LogLoaded(ILogger logger, ModelComponent component, string package, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Unloading {Component} of {Package} to stay within the memory budget")]
    private static partial void LogEvicting(ILogger logger, ModelComponent component, string package);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Loading {Component} of {Package} needs {NeededMb} MB, over the {BudgetMb} MB budget; trying anyway")]
    private static partial void LogOverBudget(ILogger logger, ModelComponent component, string package, long neededMb, long budgetMb);
}
