using System.Diagnostics;
using System.Text.Json;
using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FluxWeb.GpuCheck;

/// <summary>Timing, memory and profile helpers over the engine's own pieces.</summary>
public static class Measure
{
    /// <summary>Memory in use on the device (total − free from the CUDA runtime), or this process's resident memory on the CPU.</summary>
    public static long Used(ExecutionDevice device, ICudaDeviceQuery cuda) =>
        device.IsCuda && device.Gpu is { } gpu && cuda.FreeBytes(device.CudaDeviceId) is { } free
            ? gpu.TotalBytes - free
            : Process.GetCurrentProcess().WorkingSet64;

    public sealed record LoopTimes(IReadOnlyList<double> TransformerMs, IReadOnlyList<double> StepGraphMs, double UploadMs, double DownloadMs, double WallMs)
    {
        /// <summary>The steady transformer step: the median after the first (which pays for cuBLAS/cuDNN set-up).</summary>
        public double WarmStepMs => TransformerMs.Count > 1 ? Median(TransformerMs.Skip(1)) : TransformerMs.Single();

        /// <summary>Time per step outside ONNX Runtime's runs (C# between calls), averaged.</summary>
        public double HostMsPerStep => (WallMs - TransformerMs.Sum() - StepGraphMs.Sum() - UploadMs - DownloadMs) / TransformerMs.Count;
    }

    /// <summary>
    /// <paramref name="steps"/> steps of the device-resident loop at one size, the transformer and
    /// the sampler step timed separately from the loop's own wall time.
    /// </summary>
    public static LoopTimes Loop(InferenceSession transformer, ModelPackageManifest manifest, DeviceGraphs graphs, TransformerBufferCache cache, OrtMemoryInfo memory, int side, int steps, bool guided = false, bool cudaGraphs = false)
    {
        var grid = side / 16;
        var tokens = grid * grid;
        var job = new DenoiseInputs(
            SeededNoise.Normal(1, tokens * LatentLayout.Channels), [], new float[512 * manifest.TextEncoder.ContextDim], guided ? new float[512 * manifest.TextEncoder.ContextDim] : null,
            512, grid, grid, KleinSchedule.Sigmas(tokens, steps), 0, guided ? 4f : null, null, manifest.Preview);
        var buffers = cache.Get(transformer, memory, job.Shape, cudaGraphs);
        var (transformerMs, stepMs) = (new List<double>(), new List<double>());
        double upload = 0, download = 0;
        var wall = Stopwatch.StartNew();
        DeviceDenoiser.Run(transformer, manifest.Components.Transformer!, graphs, buffers, job, cudaGraphs, (what, graphId, _, run) =>
        {
            using var options = new RunOptions();
            if (graphId is { } id)
            {
                options.AddRunConfigEntry("gpu_graph_id", id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            var clock = Stopwatch.StartNew();
            run(options);
            var ms = clock.Elapsed.TotalMilliseconds;
            switch (what)
            {
                case "transformer": transformerMs.Add(ms); break;
                case "sampler step": stepMs.Add(ms); break;
                case "upload": upload += ms; break;
                default: download += ms; break;
            }
        });
        return new LoopTimes(transformerMs, stepMs, upload, download, wall.Elapsed.TotalMilliseconds);
    }

    /// <summary>Runs <paramref name="run"/> once to warm up, then <paramref name="times"/> more; the median of those.</summary>
    public static double WarmMs(Action run, int times = 3)
    {
        run();
        var samples = new List<double>();
        for (var i = 0; i < times; i++)
        {
            var clock = Stopwatch.StartNew();
            run();
            samples.Add(clock.Elapsed.TotalMilliseconds);
        }

        return Median(samples);
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>One run of a component with inputs of the given size (for load checks and profiles).</summary>
    public static void RunOnce(InferenceSession session, ModelPackageManifest manifest, ModelComponent component, int side)
    {
        var c = ResidentSessions.Component(manifest, component);
        switch (component)
        {
            case ModelComponent.TextEncoder:
                var ids = new long[512];
                var mask = Enumerable.Repeat(1L, 512).ToArray();
                using (session.Run(
                [
                    NamedOnnxValue.CreateFromTensor(c.Inputs["inputIds"], new DenseTensor<long>(ids, [1, 512])),
                    NamedOnnxValue.CreateFromTensor(c.Inputs["attentionMask"], new DenseTensor<long>(mask, [1, 512])),
                ]))
                {
                }

                break;
            case ModelComponent.VaeDecoder:
                using (session.Run([NamedOnnxValue.CreateFromTensor(c.Inputs["latents"], new DenseTensor<float>(new float[128 * (side / 16) * (side / 16)], [1, 128, side / 16, side / 16]))]))
                {
                }

                break;
            case ModelComponent.VaeEncoder:
                using (session.Run([NamedOnnxValue.CreateFromTensor(c.Inputs["image"], new DenseTensor<float>(new float[3 * side * side], [1, 3, side, side]))]))
                {
                }

                break;
            default:
                var tokens = (side / 16) * (side / 16);
                var context = manifest.TextEncoder.ContextDim;
                using (session.Run(
                [
                    NamedOnnxValue.CreateFromTensor(c.Inputs["hiddenStates"], new DenseTensor<float>(new float[tokens * 128], [1, tokens, 128])),
                    NamedOnnxValue.CreateFromTensor(c.Inputs["encoderHiddenStates"], new DenseTensor<float>(new float[512 * context], [1, 512, context])),
                    NamedOnnxValue.CreateFromTensor(c.Inputs["timestep"], new DenseTensor<float>(new[] { 0.5f }, [1])),
                    NamedOnnxValue.CreateFromTensor(c.Inputs["imageIds"], new DenseTensor<float>(LatentLayout.GridIds(side / 16, side / 16), [tokens, 4])),
                    NamedOnnxValue.CreateFromTensor(c.Inputs["textIds"], new DenseTensor<float>(LatentLayout.TextIds(512), [512, 4])),
                ]))
                {
                }

                break;
        }
    }

    /// <summary>From an ONNX Runtime profile: node runs per provider, and the operator types the CPU ran.</summary>
    public static (Dictionary<string, int> PerProvider, SortedDictionary<string, int> CpuOperators) ProfileProviders(string profileFile)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(profileFile));
        var perProvider = new Dictionary<string, int>(StringComparer.Ordinal);
        var cpu = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var e in document.RootElement.EnumerateArray())
        {
            if (!e.TryGetProperty("cat", out var category) || category.GetString() != "Node" || !e.TryGetProperty("args", out var args)
                || !args.TryGetProperty("provider", out var providerElement) || !(e.GetProperty("name").GetString() ?? "").EndsWith("_kernel_time", StringComparison.Ordinal))
            {
                continue;
            }

            var provider = providerElement.GetString() ?? "?";
            perProvider[provider] = perProvider.GetValueOrDefault(provider) + 1;
            if (provider == "CPUExecutionProvider" && args.TryGetProperty("op_name", out var op))
            {
                cpu[op.GetString() ?? "?"] = cpu.GetValueOrDefault(op.GetString() ?? "?") + 1;
            }
        }

        return (perProvider, cpu);
    }
}
