using FluxWeb.Domain.Time;
using FluxWeb.Inference.Packages;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace FluxWeb.Inference.Engine;

/// <summary>A loaded component as the engine reports it (health, admin pages): its weights and the activation arena it has grown to.</summary>
public sealed record ResidentComponent(string PackageId, ModelComponent Component, long EstimatedBytes, DateTimeOffset LastUsed)
{
    public long ArenaBytes { get; init; }
}

/// <summary>
/// The ONNX Runtime sessions the engine keeps loaded, within a memory budget (<see cref="MemoryBudget"/>).
/// Each session counts its weights and the activation arena it grew to for the largest run it has
/// done (arenas keep their memory until shrunk). Loading takes seconds to minutes, so nothing that
/// fits is ever reloaded: when a load or a larger run would overflow the budget (or the GPU's real
/// free memory), idle sessions go first from other packages (least recently used), then this
/// package's text encoder and VAE, and only for a VAE run that still does not fit, its transformer
/// (9B on a 24 GB card: the text encoder is unloaded before the transformer loads). Sessions that
/// failed are disposed so the next job gets a fresh one.
/// </summary>
public sealed partial class ResidentSessions(SessionFactory factory, IOptions<InferenceOptions> options, AppClock time, ILogger<ResidentSessions> logger, MemoryBudget? budget = null) : IDisposable
{
    private readonly Lock gate = new();
    private readonly Dictionary<(string Package, ModelComponent Component), Entry> sessions = [];
    private readonly MemoryBudget memory = budget ?? new MemoryBudget(factory.Probe, options);

    private sealed class Entry(InferenceSession session, long bytes, string folder)
    {
        public InferenceSession Session { get; } = session;

        public long Bytes { get; } = bytes;

        public string Folder { get; } = folder;

        public DateTimeOffset LastUsed { get; set; }

        /// <summary>Activation memory the session's arena has grown to (the largest run since loading or the last shrink).</summary>
        public long ArenaBytes { get; set; }
    }

    public long BudgetBytes => memory.Bytes;

    public SessionFactory Factory => factory;

    public MemoryBudget Budget => memory;

    /// <summary>Raised (under the lock) just before a session is disposed: whoever holds device memory allocated through it must free that first.</summary>
    public event Action<InferenceSession>? Removing;

    public IReadOnlyList<ResidentComponent> Snapshot()
    {
        lock (gate)
        {
            return sessions.Select(s => new ResidentComponent(s.Key.Package, s.Key.Component, s.Value.Bytes, s.Value.LastUsed) { ArenaBytes = s.Value.ArenaBytes })
                .OrderBy(r => r.PackageId, StringComparer.Ordinal).ThenBy(r => r.Component).ToList();
        }
    }

    /// <summary>The session for one component, loading it when needed and making room for its weights and for a run needing <paramref name="activationBytes"/>.</summary>
    public InferenceSession Get(InstalledModel model, ModelComponent component, CancellationToken cancellationToken, long activationBytes = 0)
    {
        var manifest = model.Manifest ?? throw new InferenceFailedException(InferenceFailure.ModelUnavailable, $"Model '{model.Id}' cannot be used: {model.Error}");
        var key = (model.Id, component);
        lock (gate)
        {
            if (sessions.TryGetValue(key, out var existing) && existing.Folder == model.Folder)
            {
                existing.LastUsed = time.GetUtcNow();
                if (activationBytes > existing.ArenaBytes)
                {
                    // The arena will grow to this run's size: make room for the growth.
                    MakeRoom(key, activationBytes - existing.ArenaBytes, newWeights: 0);
                    existing.ArenaBytes = activationBytes;
                }

                return existing.Session;
            }

            if (existing is not null)
            {
                // The package was rebuilt in place (same id, new files): drop the stale session.
                Remove(key);
            }

            var info = Component(manifest, component);
            var bytes = EstimateBytes(manifest, info);
            MakeRoom(key, bytes + activationBytes, newWeights: bytes);
            LogLoading(logger, component, model.Id, bytes / (1 << 20));
            var started = time.GetTimestamp();
            InferenceSession session;
            try
            {
                session = factory.Create(
                    Path.Combine(model.Folder, info.File),
                    cancellationToken,
                    quantizedWeights: component == ModelComponent.Transformer && manifest.Precision.Weights is "fp8" or "nvfp4",
                    cudaGraph: component == ModelComponent.Transformer && options.Value.CudaGraphs);
            }
            catch (OnnxRuntimeException ex)
            {
                throw EngineFailures.FromLoad(ex, model.Id, component);
            }

            LogLoaded(logger, component, model.Id, time.GetElapsedTime(started).TotalSeconds);
            sessions[key] = new Entry(session, bytes, model.Folder) { LastUsed = time.GetUtcNow(), ArenaBytes = activationBytes };
            return session;
        }
    }

    /// <summary>The component's arena was shrunk at the end of its last run: it no longer holds that run's activations.</summary>
    public void ArenaShrunk(string packageId, ModelComponent component)
    {
        lock (gate)
        {
            if (sessions.TryGetValue((packageId, component), out var entry))
            {
                entry.ArenaBytes = 0;
            }
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

    /// <summary>Stored bytes, doubled when float32 compute widens 16-bit weights at load (FP8 and NVFP4 stay quantized: their dequantisation is not folded).</summary>
    internal static long EstimateBytes(ModelPackageManifest manifest, ComponentInfo component)
    {
        var widened = manifest.Precision.Compute == "fp32" && manifest.Precision.Weights is "bf16" or "fp16";
        return component.WeightBytes * (widened ? 2 : 1);
    }

    /// <summary>
    /// Evicts idle sessions until <paramref name="needed"/> more bytes fit the budget, and, for a new
    /// load of <paramref name="newWeights"/>, until the GPU really has that much free.
    /// </summary>
    private void MakeRoom((string Package, ModelComponent Component) requested, long needed, long newWeights)
    {
        var budgetBytes = memory.Bytes;
        long Used() => sessions.Values.Sum(e => e.Bytes + e.ArenaBytes);
        var ownTransformer = (requested.Package, ModelComponent.Transformer);
        var candidates = sessions.Keys
            .Where(k => k != requested && k != ownTransformer)
            .OrderBy(k => k.Package == requested.Package ? 1 : 0)
            .ThenBy(k => k.Package == requested.Package ? (int)k.Component : 0)
            .ThenBy(k => sessions[k].LastUsed)
            .ToList();
        var next = 0;
        while (Used() + needed > budgetBytes && next < candidates.Count)
        {
            Evict(candidates[next++], "to stay within the memory budget");
        }

        // A VAE run of the package in use may unload its transformer (reloaded by the next job), but only when that makes it fit.
        if (Used() + needed > budgetBytes && requested.Component is ModelComponent.VaeDecoder or ModelComponent.VaeEncoder
            && sessions.TryGetValue(ownTransformer, out var transformer) && Used() - transformer.Bytes - transformer.ArenaBytes + needed <= budgetBytes)
        {
            Evict(ownTransformer, "so its own VAE run fits the memory budget");
        }

        if (Used() + needed > budgetBytes)
        {
            LogOverBudget(logger, requested.Component, requested.Package, (Used() + needed) / (1 << 20), budgetBytes / (1 << 20));
        }

        if (newWeights > 0 && memory.FreeNow() is { } free)
        {
            // Another process on the GPU, or arenas larger than estimated: the device's own count decides.
            while (free - memory.ReserveBytes < newWeights && next < candidates.Count)
            {
                Evict(candidates[next++], "because the GPU has too little free memory");
                free = memory.FreeNow() ?? free;
            }

            if (free - memory.ReserveBytes < newWeights)
            {
                LogTooLittleFree(logger, requested.Component, requested.Package, newWeights / (1 << 20), free / (1 << 20));
            }
        }
    }

    private void Evict((string Package, ModelComponent Component) key, string why)
    {
        LogEvicting(logger, key.Component, key.Package, why);
        Remove(key);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Unloading {Component} of {Package} {Why}")]
    private static partial void LogEvicting(ILogger logger, ModelComponent component, string package, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Component} of {Package} needs {NeededMb} MB with its activations, over the {BudgetMb} MB budget; trying anyway")]
    private static partial void LogOverBudget(ILogger logger, ModelComponent component, string package, long neededMb, long budgetMb);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Loading {Component} of {Package} needs {NeededMb} MB but the GPU has {FreeMb} MB free; trying anyway")]
    private static partial void LogTooLittleFree(ILogger logger, ModelComponent component, string package, long neededMb, long freeMb);
}
