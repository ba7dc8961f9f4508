using System.Diagnostics;
using FluxWeb.Domain.Time;
using FluxWeb.Inference;
using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.Transformer;
using FluxWeb.Inference.Vae;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FluxWeb.GpuCheck;

/// <summary>
/// Everything the check measures, in the order that matters most if time runs out: the device,
/// the packages, per-component loads, the transformer step at three sizes, the rest of a job,
/// end to end, FP8 against bf16, out-of-memory recovery, the oracle fixtures on the GPU.
/// Each measurement that fails is reported as failed with its reason and the run goes on.
/// </summary>
internal sealed class Checks(CheckOptions options, Report report, Stopwatch clock)
{
    /// <summary>Linear FLOPs of one klein 4B transformer step at 1024² (4096 image + 512 text tokens): 2 · params · tokens.</summary>
    public const double Flop4BAt1024 = 34.8e12;

    private readonly List<InstalledModel> packages = [];

    private string Tables => Path.Combine(options.Repo, "tests", "fixtures", "weights-tables");

    private string Models => Path.Combine(options.Work, "models");

    private bool TimeLeft(double minutesNeeded) => options.CpuSmoke || clock.Elapsed.TotalMinutes + minutesNeeded < options.Minutes;

    public async Task RunAsync()
    {
        Directory.CreateDirectory(Models);
        var inference = new InferenceOptions
        {
            Device = options.CpuSmoke ? DevicePreference.Cpu : DevicePreference.Cuda,
            MinSide = 64,
            WarmStart = WarmStart.None,
        };
        ExecutionDeviceProbe probe;
        ExecutionDevice device;
        try
        {
            probe = new ExecutionDeviceProbe(Options.Create(inference), NullLogger<ExecutionDeviceProbe>.Instance);
            device = probe.Device;
            ReportDevice(device);
        }
        catch (Exception ex)
        {
            report.Failed("device", "probe", ex);
            return;
        }

        var small = options.CpuSmoke ? 64 : 512;
        var medium = options.CpuSmoke ? 128 : 1024;
        var large = options.CpuSmoke ? 256 : 2048;
        var factory = new SessionFactory(probe, Options.Create(inference));
        using var graphs = new DeviceGraphs(factory);
        var memory = factory.DeviceMemory();

        // Cheap and decisive first: does the GPU compute klein's function in bf16 and fp16 at all?
        Oracle(factory, device);
        var (bf16, fp8, nvfp4, nine) = BuildPackages();
        if (bf16 is not null)
        {
            using (var sessions = LoadComponents(bf16, factory, device, probe.Cuda, medium))
            {
                Kernels(bf16);
                if (sessions.Get(ModelComponent.Transformer) is { } transformer)
                {
                    TransformerSteps(bf16, transformer, graphs, memory, device, probe.Cuda, [small, medium, large], "");
                }

                OtherComponents(bf16, sessions, medium);
            }

            await EndToEnd(bf16, probe, inference, device, medium);
        }

        foreach (var quantized in new[] { fp8, nvfp4 }.OfType<InstalledModel>())
        {
            if (TimeLeft(1))
            {
                using var sessions = LoadComponents(quantized, factory, device, probe.Cuda, medium, transformerOnly: true);
                if (sessions.Get(ModelComponent.Transformer) is { } transformer)
                {
                    TransformerSteps(quantized, transformer, graphs, memory, device, probe.Cuda, [medium], "");
                }
            }
        }

        if (nine is not null && TimeLeft(2))
        {
            using (var sessions = LoadComponents(nine, factory, device, probe.Cuda, medium, transformerOnly: true))
            {
                if (sessions.Get(ModelComponent.Transformer) is { } transformer)
                {
                    TransformerSteps(nine, transformer, graphs, memory, device, probe.Cuda, [medium], "");
                }
            }

            await OutOfMemoryRecovery(nine, probe, inference, device, large, medium);
        }

        if (bf16 is not null && device.IsCuda && TimeLeft(1))
        {
            CudaGraphs(bf16, factory, graphs, memory, device, probe.Cuda, medium);
        }
    }

    /// <summary>Sessions a check loaded, disposed together.</summary>
    private sealed class LoadedSessions : IDisposable
    {
        private readonly Dictionary<ModelComponent, InferenceSession> sessions = [];

        public void Add(ModelComponent component, InferenceSession session) => sessions[component] = session;

        public InferenceSession? Get(ModelComponent component) => sessions.GetValueOrDefault(component);

        public void Dispose()
        {
            foreach (var session in sessions.Values)
            {
                session.Dispose();
            }
        }
    }

    private void ReportDevice(ExecutionDevice device)
    {
        report.Add("device", "kind", device.IsCuda ? "CUDA" : "CPU", device.Reason);
        if (device.Gpu is { } gpu)
        {
            report.Add("device", "GPU", gpu.Name, $"compute capability {gpu.ComputeCapability}, driver {gpu.DriverVersion ?? "?"}, CUDA {gpu.DriverCudaText}");
            report.Add("device", "memory", $"{Report.GiB(gpu.FreeBytes ?? 0)} free of {Report.GiB(gpu.TotalBytes)}", "cudaMemGetInfo at probe time");
        }

        if (CudaKernelTargets.FindProviderLibrary() is { } provider)
        {
            var (cubins, ptx) = CudaKernelTargets.ReadFatbin(provider);
            report.Add("device", "CUDA provider kernels", CudaKernelTargets.Describe(cubins), ptx ? "with PTX" : "no PTX");
        }

        report.Add("device", "unusable precisions", device.UnsupportedPrecisions.Count == 0 ? "none" : string.Join("; ", device.UnsupportedPrecisions.Select(p => $"{p.Key}: {p.Value}")));
        report.Add("device", "FP8 / NVFP4 kernels", $"{(device.NativeFp8 ? "MatMulBlockQuantizedFp8Weight" : "dequantise just in time")} / {(device.PackedFp4 ? "MatMulBlockQuantizedFp4Weight" : "GatherBlockQuantized")}");
    }

    private (InstalledModel? Bf16, InstalledModel? Fp8, InstalledModel? Nvfp4, InstalledModel? Nine) BuildPackages()
    {
        InstalledModel? Build(string label, Func<(InstalledModel Model, TimeSpan Elapsed)> build)
        {
            try
            {
                var (model, elapsed) = build();
                report.Add("build", label, Report.Seconds(elapsed.TotalSeconds), $"{model.Id}: weights {model.Manifest!.Precision.Weights}, compute {model.Manifest.Precision.Compute}, {Report.GiB(model.Manifest.Components.Transformer!.WeightBytes)} transformer weights");
                packages.Add(model);
                return model;
            }
            catch (Exception ex)
            {
                report.Failed("build", label, ex);
                return null;
            }
        }

        if (options.CpuSmoke)
        {
            return (Build("tiny bf16 weights", () => SparseCheckpoints.BuildTiny(options.Work, Models, "bf16")),
                Build("tiny FP8", () => SparseCheckpoints.BuildTiny(options.Work, Models, "fp8")),
                Build("tiny NVFP4", () => SparseCheckpoints.BuildTiny(options.Work, Models, "nvfp4")),
                null);
        }

        return (Build("4B bf16 package (sparse, on this machine)", () => SparseCheckpoints.Build(Tables, options.Work, Models, "4b", "bf16", ComputePrecision.BFloat16)),
            Build("4B FP8 package", () => SparseCheckpoints.Build(Tables, options.Work, Models, "4b", "fp8", ComputePrecision.BFloat16)),
            Build("4B NVFP4 package (derived layout)", () => SparseCheckpoints.Build(Tables, options.Work, Models, "4b", "nvfp4", ComputePrecision.BFloat16)),
            Build("9B bf16 package", () => SparseCheckpoints.Build(Tables, options.Work, Models, "9b", "bf16", ComputePrecision.BFloat16)));
    }

    /// <summary>Per component: session creation, device memory after the load, what ran on the CPU (from the profile of one run).</summary>
    private LoadedSessions LoadComponents(InstalledModel model, SessionFactory factory, ExecutionDevice device, ICudaDeviceQuery cuda, int side, bool transformerOnly = false)
    {
        var loaded = new LoadedSessions();
        var manifest = model.Manifest!;
        var components = transformerOnly ? [ModelComponent.Transformer] : new[] { ModelComponent.TextEncoder, ModelComponent.Transformer, ModelComponent.VaeDecoder, ModelComponent.VaeEncoder };
        foreach (var component in components)
        {
            var label = $"{model.Id} {component}";
            try
            {
                GC.Collect();
                var before = Measure.Used(device, cuda);
                var loading = Stopwatch.StartNew();
                var profile = Path.Combine(options.Work, "profiles", $"{model.Id}-{component}");
                Directory.CreateDirectory(Path.GetDirectoryName(profile)!);
                var session = factory.Create(Path.Combine(model.Folder, ResidentSessions.Component(manifest, component).File), CancellationToken.None,
                    quantizedWeights: component == ModelComponent.Transformer && manifest.Precision.Weights is "fp8" or "nvfp4", profilePrefix: profile);
                loaded.Add(component, session);
                var loadSeconds = loading.Elapsed.TotalSeconds;
                var afterLoad = Measure.Used(device, cuda);
                Measure.RunOnce(session, manifest, component, side);
                var afterRun = Measure.Used(device, cuda);
                var (perProvider, cpuOperators) = Measure.ProfileProviders(session.EndProfiling());
                report.Add("load", $"{label}: session creation", Report.Seconds(loadSeconds), $"{(device.IsCuda ? "device" : "process")} memory +{Report.GiB(afterLoad - before)} after load, +{Report.GiB(afterRun - before)} after one {side}² run");
                report.Add("load", $"{label}: nodes per provider", string.Join(", ", perProvider.Select(p => $"{p.Key.Replace("ExecutionProvider", "", StringComparison.Ordinal)} {p.Value}")),
                    cpuOperators.Count == 0 ? "nothing on the CPU" : "on the CPU: " + string.Join(", ", cpuOperators.Select(o => $"{o.Key}×{o.Value}")));
            }
            catch (Exception ex)
            {
                report.Failed("load", label, ex);
            }
        }

        return loaded;
    }

    private void Kernels(InstalledModel model)
    {
        try
        {
            var lines = AttentionProbe.Run(model.Folder, TimeSpan.FromMinutes(2));
            report.Add("attention", $"{model.Id}: kernel per MultiHeadAttention node", lines.Count == 0 ? "nothing printed" : string.Join(" / ", lines.Select(l => $"{l.Count}× {l.Line}")), $"{AttentionProbe.Variable}=1, one 1024² step in a child process");
        }
        catch (Exception ex)
        {
            report.Failed("attention", $"{model.Id}: kernel per MultiHeadAttention node", ex);
        }
    }

    /// <summary>The transformer step with CUDA graph capture (its own session: capture is a session option), against the plain step measured before.</summary>
    private void CudaGraphs(InstalledModel model, SessionFactory factory, DeviceGraphs graphs, OrtMemoryInfo memory, ExecutionDevice device, ICudaDeviceQuery cuda, int side)
    {
        try
        {
            using var session = factory.Create(Path.Combine(model.Folder, model.Manifest!.Components.Transformer!.File), CancellationToken.None, cudaGraph: true);
            TransformerSteps(model, session, graphs, memory, device, cuda, [side], " with CUDA graphs", cudaGraphs: true);
        }
        catch (Exception ex)
        {
            report.Failed("transformer", $"{model.Id} with CUDA graphs", ex);
        }
    }

    /// <summary>Warm transformer steps through the device-resident loop, with FLOP/s, the sampler step and the host's share.</summary>
    private void TransformerSteps(InstalledModel model, InferenceSession session, DeviceGraphs graphs, OrtMemoryInfo memory, ExecutionDevice device, ICudaDeviceQuery cuda, int[] sides, string variant, bool cudaGraphs = false)
    {
        var manifest = model.Manifest!;
        var label = model.Id + variant;
        try
        {
            // Disposed before the session (the caller's): its buffers were allocated through it.
            using var cache = new TransformerBufferCache();
            report.Add("transformer", $"{label}: device memory with weights loaded", Report.GiB(Measure.Used(device, cuda)));
            foreach (var side in sides)
            {
                if (!TimeLeft(side >= 2048 ? 1.5 : 0.5))
                {
                    report.Add("transformer", $"{label} {side}²", "skipped", "time limit");
                    continue;
                }

                var before = Measure.Used(device, cuda);
                var first = Measure.Loop(session, manifest, graphs, cache, memory, side, steps: 4, cudaGraphs: cudaGraphs);
                var afterFirst = Measure.Used(device, cuda);
                var second = Measure.Loop(session, manifest, graphs, cache, memory, side, steps: 4, cudaGraphs: cudaGraphs);
                var afterSecond = Measure.Used(device, cuda);
                var tokens = (side / 16) * (side / 16) + 512;
                var flop = Flop4BAt1024 * tokens / 4608 * (manifest.Transformer.Hidden == 4096 ? 9.08 / 3.88 : 1);
                var throughput = manifest.Transformer.Hidden is 3072 or 4096
                    ? $"{Report.Number(flop / (second.WarmStepMs / 1000) / 1e12)} effective TFLOP/s of {Report.Number(flop / 1e12)} linear TFLOP"
                    : "TFLOP/s only for the official sizes";
                report.Add("transformer", $"{label} {side}²: warm step", Report.Ms(second.WarmStepMs), $"{throughput}; first step of the first job {Report.Ms(first.TransformerMs[0])}");
                report.Add("transformer", $"{label} {side}²: sampler step graph, host time per step", $"{Report.Ms(Measure.Median(second.StepGraphMs))}, {Report.Ms(second.HostMsPerStep)}", $"upload {Report.Ms(second.UploadMs)}, download {Report.Ms(second.DownloadMs)}");
                report.Add("transformer", $"{label} {side}²: memory growth", $"+{Report.GiB(afterFirst - before)} first job, +{Report.GiB(afterSecond - afterFirst)} second",
                    $"estimate {Report.GiB(ActivationEstimate.Transformer(manifest, 1, tokens - 512, 512, device.IsCuda && manifest.Precision.Compute != "fp32"))} of activations");
            }
        }
        catch (Exception ex)
        {
            report.Failed("transformer", label, ex);
        }
    }

    private void OtherComponents(InstalledModel model, LoadedSessions sessions, int side)
    {
        var manifest = model.Manifest!;
        foreach (var component in new[] { ModelComponent.TextEncoder, ModelComponent.VaeDecoder, ModelComponent.VaeEncoder })
        {
            try
            {
                var session = sessions.Get(component) ?? throw new InvalidOperationException("it did not load");
                var ms = Measure.WarmMs(() => Measure.RunOnce(session, manifest, component, side));
                report.Add("components", $"{model.Id} {component}{(component == ModelComponent.TextEncoder ? " (512 tokens)" : $" {side}²")}", Report.Ms(ms), "warm, median of 3");
            }
            catch (Exception ex)
            {
                report.Failed("components", $"{model.Id} {component}", ex);
            }
        }
    }

    /// <summary>Whole jobs through the engine: the first (loads everything), then three warm ones, and the device memory they leave.</summary>
    private async Task EndToEnd(InstalledModel model, ExecutionDeviceProbe probe, InferenceOptions inference, ExecutionDevice device, int side)
    {
        try
        {
            using var sessions = Sessions(probe, inference);
            using var engine = Engine(probe, inference, sessions);
            var request = new GenerationRequest { ModelId = model.Id, Prompt = "a lighthouse at dusk", Width = side, Height = side, Seed = 1 };
            var cold = Stopwatch.StartNew();
            (await engine.GenerateAsync(request, null, CancellationToken.None)).Image.Dispose();
            var coldSeconds = cold.Elapsed.TotalSeconds;
            var afterFirst = Measure.Used(device, probe.Cuda);
            var warm = new List<double>();
            var peak = afterFirst;
            for (var i = 0; i < 3; i++)
            {
                var clockWarm = Stopwatch.StartNew();
                // Another prompt each time: the text encoder runs, as in a studio.
                var result = await engine.GenerateAsync(request with { Seed = (ulong)(i + 2), Prompt = $"a lighthouse at dusk, take {i}" }, null, CancellationToken.None);
                warm.Add(clockWarm.Elapsed.TotalSeconds);
                result.Image.Dispose();
                peak = Math.Max(peak, Measure.Used(device, probe.Cuda));
            }

            report.Add("end to end", $"{model.Id} {side}² 4 steps: cold", Report.Seconds(coldSeconds), "first job of a fresh engine: loads text encoder, transformer, VAE decoder");
            report.Add("end to end", $"{model.Id} {side}² 4 steps: warm", Report.Seconds(Measure.Median(warm)), $"median of 3 ({string.Join(", ", warm.Select(Report.Seconds))})");
            report.Add("end to end", $"{model.Id}: device memory in use", $"{Report.GiB(afterFirst)} after job 1, {Report.GiB(peak)} highest after jobs 2–4", $"second-job growth +{Report.GiB(peak - afterFirst)}; resident: {string.Join(", ", engine.Resident.Select(r => $"{r.Component} {Report.GiB(r.EstimatedBytes)}+{Report.GiB(r.ArenaBytes)} arena"))}");
        }
        catch (Exception ex)
        {
            report.Failed("end to end", model.Id, ex);
        }
    }

    /// <summary>
    /// With the activation arena capped (emulating a smaller card), a 9B job at 2048² runs out of
    /// memory: the job must fail with a readable message and the next, normal job must run.
    /// </summary>
    private async Task OutOfMemoryRecovery(InstalledModel model, ExecutionDeviceProbe probe, InferenceOptions inference, ExecutionDevice device, int large, int normal)
    {
        if (!device.IsCuda)
        {
            report.Add("out of memory", "recovery", "not run", "needs CUDA (an arena cap)");
            return;
        }

        var capped = new InferenceOptions { Device = inference.Device, MinSide = 64, WarmStart = WarmStart.None, CudaArenaLimitGiB = 2 };
        using var sessions = Sessions(probe, capped);
        using var engine = Engine(probe, capped, sessions);
        var request = new GenerationRequest { ModelId = model.Id, Prompt = "too large", Width = large, Height = large, Seed = 1 };
        try
        {
            (await engine.GenerateAsync(request, null, CancellationToken.None)).Image.Dispose();
            report.Add("out of memory", $"{model.Id} {large}² with a 2 GiB arena cap", "succeeded", "no out-of-memory happened: the check proves nothing about recovery");
        }
        catch (InferenceFailedException ex)
        {
            report.Add("out of memory", $"{model.Id} {large}² with a 2 GiB arena cap", ex.Kind.ToString(), ex.Message);
        }
        catch (Exception ex)
        {
            report.Failed("out of memory", $"{model.Id} {large}² with a 2 GiB arena cap", ex);
        }

        try
        {
            var clockNext = Stopwatch.StartNew();
            (await engine.GenerateAsync(request with { Width = normal, Height = normal, Prompt = "the next job" }, null, CancellationToken.None)).Image.Dispose();
            report.Add("out of memory", $"next job {normal}²", "succeeded", Report.Seconds(clockNext.Elapsed.TotalSeconds));
        }
        catch (Exception ex)
        {
            report.Failed("out of memory", $"next job {normal}²", ex);
        }
    }

    /// <summary>The tiny oracle fixtures on this device in every precision it runs: how far from the reference, and any NaN/Inf.</summary>
    private void Oracle(SessionFactory factory, ExecutionDevice device)
    {
        var fixtures = Path.Combine(options.Repo, "tests", "fixtures", "flux2-tiny");
        var folder = Path.Combine(options.Work, "oracle");
        Directory.CreateDirectory(folder);
        var weights = Path.Combine(folder, "transformer_bfl.safetensors");
        var vaeWeights = Path.Combine(folder, "vae_bfl.safetensors");
        foreach (var (from, to) in new[] { ("transformer_bfl.safetensors", weights), ("vae_bfl.safetensors", vaeWeights) })
        {
            File.Delete(to);
            FileLinks.HardLinkOrCopy(Path.Combine(fixtures, "weights", from), to);
        }
        foreach (var precision in Enum.GetValues<ComputePrecision>().Where(p => device.PrecisionProblem(p) is null))
        {
            try
            {
                var path = Path.Combine(folder, $"transformer-{precision.ManifestName()}.onnx");
                Flux2TransformerGraph.Build(WeightSet.Open(weights), Flux2TransformerConfig.FixtureTiny, precision, folder).Save(path);
                using var session = factory.Create(path, CancellationToken.None);
                foreach (var caseName in new[] { "transformer_fwd_noref", "transformer_fwd_ref" })
                {
                    var fixture = SafeTensorsFile.Open(Path.Combine(fixtures, caseName + ".safetensors"));
                    var (maxAbs, nonFinite) = Compare(fixture.ReadFloat32("pred"), RunTransformer(session, fixture));
                    report.Add("oracle", $"{caseName} {precision.ManifestName()}", $"max |Δ| {maxAbs:E2}", $"{nonFinite} NaN/Inf; output range ±{fixture.ReadFloat32("pred").Max(Math.Abs):0.00}");
                }

                var decoderPath = Path.Combine(folder, $"vae_decoder-{precision.ManifestName()}.onnx");
                Flux2VaeGraphs.Save(Flux2VaeGraphs.BuildDecoder(WeightSet.Open(vaeWeights), Flux2VaeConfig.FixtureTiny, precision, folder), decoderPath);
                using var decoder = factory.Create(decoderPath, CancellationToken.None);
                var decode = SafeTensorsFile.Open(Path.Combine(fixtures, "vae_decode.safetensors"));
                var latents = decode.ReadFloat32("latents");
                using var outputs = decoder.Run([NamedOnnxValue.CreateFromTensor(Flux2VaeGraphs.DecoderInput, new DenseTensor<float>(latents, decode.Get("latents").Shape.Select(d => (int)d).ToArray()))]);
                var (vaeError, vaeNonFinite) = Compare(decode.ReadFloat32("image"), outputs[0].AsTensor<float>().ToArray());
                report.Add("oracle", $"vae_decode {precision.ManifestName()}", $"max |Δ| {vaeError:E2}", $"{vaeNonFinite} NaN/Inf");
            }
            catch (Exception ex)
            {
                report.Failed("oracle", precision.ManifestName(), ex);
            }
        }
    }

    private static float[] RunTransformer(InferenceSession session, SafeTensorsFile fixture)
    {
        var x = fixture.ReadFloat32("x");
        var ids = fixture.ReadFloat32("x_ids");
        var context = fixture.ReadFloat32("ctx");
        var contextIds = fixture.ReadFloat32("ctx_ids");
        var (tokens, text) = (ids.Length / 4, contextIds.Length / 4);
        using var results = session.Run(
        [
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.HiddenStates, new DenseTensor<float>(x, [1, tokens, 128])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.EncoderHiddenStates, new DenseTensor<float>(context, [1, text, context.Length / text])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.Timestep, new DenseTensor<float>(fixture.ReadFloat32("timesteps"), [1])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.ImageIds, new DenseTensor<float>(ids, [tokens, 4])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.TextIds, new DenseTensor<float>(contextIds, [text, 4])),
        ]);
        return results[0].AsTensor<float>().ToArray();
    }

    private static (float MaxAbs, int NonFinite) Compare(float[] expected, float[] actual)
    {
        var nonFinite = actual.Count(v => !float.IsFinite(v));
        var max = expected.Zip(actual, (a, b) => float.IsFinite(b) ? Math.Abs(a - b) : 0f).DefaultIfEmpty().Max();
        return (max, nonFinite);
    }

    /// <summary>The engine's sessions, disposed by the caller after the engine (which frees its device buffers first): VRAM is free again for the next check.</summary>
    private static ResidentSessions Sessions(ExecutionDeviceProbe probe, InferenceOptions inference)
    {
        var wrapped = Options.Create(inference);
        return new ResidentSessions(new SessionFactory(probe, wrapped), wrapped, AppClock.Real, NullLogger<ResidentSessions>.Instance, new MemoryBudget(probe, wrapped));
    }

    private InferenceEngine Engine(ExecutionDeviceProbe probe, InferenceOptions inference, ResidentSessions sessions) =>
        new(new ModelCatalog(Options.Create(new ModelStoreOptions { ModelsDirectory = Models }), probe), sessions, Options.Create(inference), NullLogger<InferenceEngine>.Instance);
}
