using System.Collections.Concurrent;
using System.Diagnostics;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Inference.TextEncoding;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Inference.Engine;

/// <summary>
/// The inference singleton: owns the sessions (through <see cref="ResidentSessions"/>), the
/// tokenizers and the embedding cache, and runs one generation at a time through the klein
/// pipeline. Everything that reaches the GPU comes through here, and only from the job queue.
/// </summary>
public sealed partial class InferenceEngine(
    ModelCatalog catalog,
    ResidentSessions sessions,
    IOptions<InferenceOptions> options,
    ILogger<InferenceEngine> logger,
    ModelUsage? usage = null) : IImageGenerator, IDisposable
{
    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly EmbeddingCache embeddings = new(options.Value.EmbeddingCacheEntries);
    private readonly DeviceGraphs graphs = new(sessions.Factory);
    private readonly TransformerBufferCache buffers = Track(new TransformerBufferCache(), sessions);
    private readonly ArenaShrinkPolicy arenas = new();
    private readonly ConcurrentDictionary<string, KleinPromptTokenizer> tokenizers = new(StringComparer.Ordinal);

    public IReadOnlyList<ResidentComponent> Resident => sessions.Snapshot();

    internal InferenceOptions Settings => options.Value;

    internal ResidentSessions Sessions => sessions;

    private ILogger Logger => logger;

    /// <summary>CUDA graphs only where they can exist: on CUDA, when configured.</summary>
    private bool CudaGraphs => options.Value.CudaGraphs && sessions.Factory.Device.IsCuda;

    public EmbeddingCache Embeddings => embeddings;

    public ResolvedGeneration Validate(GenerationRequest request) => GenerationValidator.Resolve(request, Package(request.ModelId), options.Value);

    public async Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken)
    {
        var model = catalog.Find(request.ModelId);
        var resolved = GenerationValidator.Resolve(request, model, options.Value);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // The work is long and CPU-bound on the CPU provider: keep it off the caller's thread.
            var result = await Task.Run(() => new KleinPipelineRun(this, model!, request, resolved, progress, cancellationToken).Execute(), cancellationToken).ConfigureAwait(false);
            usage?.Record(model!.Id);
            return result;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Loads a package's text encoder, transformer and VAE decoder (within the budget) as a job would, taking the engine's turn.</summary>
    public async Task<TimeSpan> WarmAsync(string modelId, CancellationToken cancellationToken)
    {
        var model = catalog.Find(modelId);
        if (model is null || !model.IsUsable)
        {
            throw new InferenceFailedException(InferenceFailure.ModelUnavailable, $"Model '{modelId}' cannot be loaded: {model?.Problem ?? "it is not installed"}");
        }

        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var clock = Stopwatch.StartNew();
            await Task.Run(
                () =>
                {
                    foreach (var component in new[] { ModelComponent.TextEncoder, ModelComponent.Transformer, ModelComponent.VaeDecoder })
                    {
                        sessions.Get(model, component, cancellationToken);
                    }
                },
                cancellationToken).ConfigureAwait(false);
            return clock.Elapsed;
        }
        finally
        {
            gate.Release();
        }
    }

    private InstalledModel? Package(string id) => catalog.Find(id);

    internal KleinPromptTokenizer Tokenizer(InstalledModel model)
    {
        var path = Path.Combine(model.Folder, model.Manifest!.Tokenizer.File);
        var hash = model.Manifest.Files.FirstOrDefault(f => f.Path == model.Manifest.Tokenizer.File)?.Sha256 ?? path;
        return tokenizers.GetOrAdd(hash, _ => new KleinPromptTokenizer(path));
    }

    internal InferenceSession Session(InstalledModel model, ModelComponent component, CancellationToken cancellationToken, long activationBytes = 0) =>
        sessions.Get(model, component, cancellationToken, activationBytes);

    /// <summary>Flash/memory-efficient attention: CUDA computing in fp16/bf16 (no [heads, tokens, tokens] scores).</summary>
    private bool FusedAttention(ModelPackageManifest manifest) => sessions.Factory.Device.IsCuda && manifest.Precision.Compute != "fp32";

    private string ShrinkTarget => sessions.Factory.Device.IsCuda ? $"gpu:{sessions.Factory.Device.CudaDeviceId}" : "cpu:0";

    /// <summary>Runs ONNX Runtime work for a component, turning its failures into a readable job failure and a reset.</summary>
    internal T Guard<T>(InstalledModel model, ModelComponent component, int width, int height, Func<T> run, CancellationToken cancellationToken)
    {
        try
        {
            return run();
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        catch (OnnxRuntimeException ex)
        {
            var failure = EngineFailures.FromRun(ex, model.Id, component, width, height);
            if (failure.Kind == InferenceFailure.OutOfMemory)
            {
                sessions.DiscardAll();
            }
            else
            {
                sessions.Discard(model.Id, component);
            }

            LogRunFailed(logger, component, model.Id, failure.Kind, ex.Message);
            throw failure;
        }
    }

    /// <summary>Device buffers are allocated through the transformer's session: they go before it does.</summary>
    private static TransformerBufferCache Track(TransformerBufferCache cache, ResidentSessions sessions)
    {
        sessions.Removing += session => cache.Release(session);
        return cache;
    }

    public void Dispose()
    {
        foreach (var tokenizer in tokenizers.Values)
        {
            tokenizer.Dispose();
        }

        buffers.Dispose();
        graphs.Dispose();
        gate.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "A job of {Package} needs ~{Megabytes} MB of activations, unusually many: the arenas give that memory back when it ends")]
    private static partial void LogShrinking(ILogger logger, string package, long megabytes);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Component} of {Package} failed ({Kind}): {Detail}")]
    private static partial void LogRunFailed(ILogger logger, ModelComponent component, string package, InferenceFailure kind, string detail);

    /// <summary>One generation: the klein pipeline for every mode, step by step.</summary>
    private sealed class KleinPipelineRun(
        InferenceEngine engine,
        InstalledModel model,
        GenerationRequest request,
        ResolvedGeneration resolved,
        IProgress<GenerationProgress>? progress,
        CancellationToken cancellationToken)
    {
        private readonly Stopwatch clock = Stopwatch.StartNew();
        private readonly ModelPackageManifest manifest = model.Manifest!;
        private TimeSpan modelTime;
        private bool promptTruncated;

        /// <summary>This job's activations are unusually large: its last transformer and decoder runs shrink their arenas.</summary>
        private bool shrinkArenas;

        private int GridWidth => resolved.Width / 16;

        private int GridHeight => resolved.Height / 16;

        public GenerationResult Execute()
        {
            Report(GenerationStage.LoadingModel);
            var context = EncodePrompt(request.Prompt);
            // The unconditional pass reads the negative prompt through the same template ("" unless one was asked).
            var unconditional = resolved.Guidance is null ? null : EncodePrompt(request.NegativePrompt, negative: true);

            Report(GenerationStage.EncodingImages);
            using var source = request.Source is null ? null : PrepareSource();
            var references = new List<(float[] Tokens, int Height, int Width)>();
            float[]? cleanSource = null;
            if (source is not null)
            {
                cleanSource = EncodeImage(source);
                references.Add((cleanSource, GridHeight, GridWidth));
            }

            for (var k = 0; k < request.References.Count; k++)
            {
                using var prepared = ImagePreparation.PrepareReference(request.References[k], engine.Settings.MaxReferencePixels, $"Reference image {k + 1}");
                references.Add((EncodeImage(prepared), prepared.Height / 16, prepared.Width / 16));
            }

            var tokens = GridWidth * GridHeight;
            var noise = LatentLayout.Pack(SeededNoise.Normal(request.Seed, LatentLayout.Channels * tokens), LatentLayout.Channels, GridHeight, GridWidth);
            var sigmas = KleinSchedule.Sigmas(tokens, resolved.Steps);
            var start = source is null ? 0 : GenerationValidator.StartStep(resolved.Steps, request.Strength);
            var latents = (float[])noise.Clone();
            float[]? mask = null;
            if (source is not null)
            {
                using var preparedMask = PrepareMask();
                mask = ImagePreparation.MaskToTokens(preparedMask, GridWidth, GridHeight);
                Sampler.Renoise(latents, noise, cleanSource!, sigmas[start]);
            }

            latents = Denoise(latents, noise, cleanSource, mask, context, unconditional, references, sigmas, start);

            // The steps are done: decoding reports them as done, so progress never goes back to 0.
            Report(GenerationStage.Decoding, resolved.Steps);
            var image = Decode(latents);
            if (source is not null && request.FeatherComposite)
            {
                using var preparedMask = PrepareMask();
                var composite = ImagePreparation.FeatherComposite(source, image, preparedMask, featherRadius: Math.Max(2f, Math.Min(resolved.Width, resolved.Height) / 64f));
                image.Dispose();
                image = composite;
            }

            Report(GenerationStage.Finished, resolved.Steps);
            return new GenerationResult(image, model.Id, request.Seed, resolved.Width, resolved.Height, resolved.Steps, resolved.Guidance, clock.Elapsed, modelTime, promptTruncated);
        }

        private float[] EncodePrompt(string prompt, bool negative = false)
        {
            if (engine.embeddings.TryGet(manifest.TextEncoder.Id, prompt, out var cached))
            {
                return cached;
            }

            Report(GenerationStage.EncodingPrompt);
            var encoded = engine.Tokenizer(model).Encode(prompt);
            // The result's notice is about the prompt the person reads back; a negative prompt past 512 tokens is cut alike.
            promptTruncated |= !negative && encoded.Truncated;
            var component = manifest.Components.TextEncoder!;
            var session = engine.Session(model, ModelComponent.TextEncoder, cancellationToken, ActivationEstimate.TextEncoder(manifest, encoded.InputIds.Length, engine.FusedAttention(manifest)));
            var length = encoded.InputIds.Length;
            var result = engine.Guard(model, ModelComponent.TextEncoder, resolved.Width, resolved.Height, () => Timed(() =>
            {
                using var runOptions = CancellableRunOptions(out var registration);
                using (registration)
                {
                    using var outputs = session.Run(
                    [
                        NamedOnnxValue.CreateFromTensor(component.Inputs["inputIds"], new DenseTensor<long>(encoded.InputIds, [1, length])),
                        NamedOnnxValue.CreateFromTensor(component.Inputs["attentionMask"], new DenseTensor<long>(encoded.AttentionMask, [1, length])),
                    ], [component.Outputs["promptEmbeds"]], runOptions);
                    return outputs.Single().AsTensor<float>().ToArray();
                }
            }), cancellationToken);
            engine.embeddings.Add(manifest.TextEncoder.Id, prompt, result);
            return result;
        }

        private Image<Rgb24> PrepareSource()
        {
            var geometry = ImageGeometry.For(request.Source!.Width, request.Source.Height, engine.Settings.MaxPixels);
            return geometry.Apply(request.Source, SixLabors.ImageSharp.Processing.KnownResamplers.Lanczos3);
        }

        private Image<L8> PrepareMask()
        {
            var geometry = ImageGeometry.For(request.Source!.Width, request.Source.Height, engine.Settings.MaxPixels);
            return geometry.Apply(request.Mask!, SixLabors.ImageSharp.Processing.KnownResamplers.Triangle);
        }

        private float[] EncodeImage(Image<Rgb24> image)
        {
            var component = manifest.Components.VaeEncoder!;
            var session = engine.Session(model, ModelComponent.VaeEncoder, cancellationToken, ActivationEstimate.VaeEncoder(manifest, image.Width, image.Height));
            var pixels = ImageTensors.ToChw(image);
            var latents = engine.Guard(model, ModelComponent.VaeEncoder, image.Width, image.Height, () => Timed(() =>
            {
                using var runOptions = CancellableRunOptions(out var registration);
                using (registration)
                {
                    using var outputs = session.Run(
                        [NamedOnnxValue.CreateFromTensor(component.Inputs["image"], new DenseTensor<float>(pixels, [1, 3, image.Height, image.Width]))],
                        [component.Outputs["latents"]],
                        runOptions);
                    return outputs.Single().AsTensor<float>().ToArray();
                }
            }), cancellationToken);
            return LatentLayout.Pack(latents, LatentLayout.Channels, image.Height / 16, image.Width / 16);
        }

        private Image<Rgb24> Decode(float[] latents)
        {
            var component = manifest.Components.VaeDecoder!;
            var session = engine.Session(model, ModelComponent.VaeDecoder, cancellationToken, ActivationEstimate.VaeDecoder(manifest, resolved.Width, resolved.Height));
            var chw = LatentLayout.Unpack(latents, LatentLayout.Channels, GridHeight, GridWidth);
            var pixels = engine.Guard(model, ModelComponent.VaeDecoder, resolved.Width, resolved.Height, () => Timed(() =>
            {
                using var runOptions = CancellableRunOptions(out var registration);
                using (registration)
                {
                    ShrinkIfLarge(runOptions);
                    using var outputs = session.Run(
                        [NamedOnnxValue.CreateFromTensor(component.Inputs["latents"], new DenseTensor<float>(chw, [1, LatentLayout.Channels, GridHeight, GridWidth]))],
                        [component.Outputs["image"]],
                        runOptions);
                    return outputs.Single().AsTensor<float>().ToArray();
                }
            }), cancellationToken);
            Shrunk(ModelComponent.VaeDecoder);
            return ImageTensors.FromChw(pixels, resolved.Width, resolved.Height);
        }

        private float[] Denoise(float[] latents, float[] noise, float[]? cleanSource, float[]? mask, float[] context, float[]? unconditional, List<(float[] Tokens, int Height, int Width)> references, float[] sigmas, int start)
        {
            var component = manifest.Components.Transformer!;
            var job = new DenoiseInputs(
                latents, references, context, unconditional, KleinPromptTokenizer.MaxLength, GridHeight, GridWidth, sigmas, start, resolved.Guidance,
                mask is null ? null : (noise, cleanSource!, mask), manifest.Preview);
            var activations = ActivationEstimate.Transformer(manifest, job.Batch, job.Tokens, job.TextTokens, engine.FusedAttention(manifest));
            shrinkArenas = engine.Settings.ShrinkArenasAfterLargeJobs && engine.arenas.IsUnusual(activations, engine.Sessions.BudgetBytes);
            engine.arenas.Record(activations);
            if (shrinkArenas)
            {
                LogShrinking(engine.Logger, model.Id, activations >> 20);
            }

            var session = engine.Session(model, ModelComponent.Transformer, cancellationToken, activations);
            var cudaGraphs = engine.CudaGraphs;
            var buffers = engine.Guard(model, ModelComponent.Transformer, resolved.Width, resolved.Height, () => engine.buffers.Get(session, engine.Sessions.Factory.DeviceMemory(), job.Shape, cudaGraphs), cancellationToken);
            var fitted = LatentPreview.HasFittedProjection(manifest.Preview);
            using var previews = new OrderedBackgroundWork();
            // The guard wraps the whole loop: on a failure the loop's bindings are gone before the session is discarded.
            var final = engine.Guard(model, ModelComponent.Transformer, resolved.Width, resolved.Height, () => DeviceDenoiser.Run(
                session,
                component,
                engine.graphs,
                buffers,
                job,
                cudaGraphs,
                (_, graphId, lastTransformerRun, run) => Timed(() =>
                {
                    using var runOptions = CancellableRunOptions(out var registration);
                    using (registration)
                    {
                        if (graphId is { } id)
                        {
                            runOptions.AddRunConfigEntry("gpu_graph_id", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
                        }

                        if (lastTransformerRun)
                        {
                            ShrinkIfLarge(runOptions);
                        }

                        run(runOptions);
                        return true;
                    }
                }),
                // The preview's bytes are made off the loop's thread: the next step starts at once.
                (step, rgb) => previews.Enqueue(() => Report(GenerationStage.Denoising, step + 1, LatentPreview.FromProjected(rgb, GridHeight, GridWidth, fitted))),
                cancellationToken: cancellationToken), cancellationToken);
            previews.Drain();
            Shrunk(ModelComponent.Transformer);
            if (cudaGraphs && engine.buffers.ShouldReloadSession)
            {
                // Every captured shape holds its graph until the session goes: start afresh before they pile up.
                engine.Sessions.Discard(model.Id, ModelComponent.Transformer);
            }

            return final;
        }

        /// <summary>At the end of this run ONNX Runtime gives back the arena memory the run grew (an unusually large job).</summary>
        private void ShrinkIfLarge(RunOptions runOptions)
        {
            if (shrinkArenas)
            {
                runOptions.AddRunConfigEntry("memory.enable_memory_arena_shrinkage", engine.ShrinkTarget);
            }
        }

        private void Shrunk(ModelComponent component)
        {
            if (shrinkArenas)
            {
                engine.Sessions.ArenaShrunk(model.Id, component);
            }
        }

        private RunOptions CancellableRunOptions(out CancellationTokenRegistration registration)
        {
            // A fresh RunOptions per run: once set, the terminate flag stays set.
            var runOptions = new RunOptions();
            registration = cancellationToken.Register(() => runOptions.Terminate = true);
            return runOptions;
        }

        private T Timed<T>(Func<T> run)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                return run();
            }
            finally
            {
                modelTime += Stopwatch.GetElapsedTime(started);
            }
        }

        private void Report(GenerationStage stage, int step = 0, PreviewImage? preview = null) =>
            progress?.Report(new GenerationProgress(stage, step, resolved.Steps, clock.Elapsed, preview));
    }
}
