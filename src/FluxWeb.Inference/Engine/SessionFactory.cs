using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Transformer;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace FluxWeb.Inference.Engine;

/// <summary>Session options for the chosen device: CUDA with the memory settings that let one GPU serve long runs, or the CPU.</summary>
public sealed partial class SessionFactory(ExecutionDeviceProbe devices, IOptions<InferenceOptions> options, ILogger<SessionFactory>? logger = null)
{
    private readonly ILogger log = logger ?? NullLogger<SessionFactory>.Instance;

    public ExecutionDevice Device => devices.Device;

    public ExecutionDeviceProbe Probe => devices;

    /// <summary>Free device memory now (CUDA runtime), for the memory budget; null on the CPU or when the runtime cannot say.</summary>
    public long? FreeDeviceBytes() => Device.IsCuda ? devices.Cuda.FreeBytes(Device.CudaDeviceId) : null;

    /// <summary>A small graph built in code (sampler step, device copies) on the inference device.</summary>
    public InferenceSession CreateFromBytes(byte[] model, string name)
    {
        using var sessionOptions = Options(name, cudaGraph: false);
        return new InferenceSession(model, sessionOptions);
    }

    /// <summary>Where device buffers live: CUDA memory of the chosen GPU, or ordinary memory on the CPU.</summary>
    public OrtMemoryInfo DeviceMemory() => Device.IsCuda
        ? new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, Device.CudaDeviceId, OrtMemType.Default)
        : new OrtMemoryInfo(OrtMemoryInfo.allocatorCPU, OrtAllocatorType.ArenaAllocator, 0, OrtMemType.Default);

    /// <param name="quantizedWeights">The graph holds FP8/NVFP4 linears: on a GPU with ONNX Runtime's fused kernels for them, they are rewritten to use those (weights stay quantized in device memory).</param>
    /// <param name="cudaGraph">Capture the graph's CUDA work once per shape and replay it (see <see cref="InferenceOptions.CudaGraphs"/>).</param>
    /// <param name="profilePrefix">Write ONNX Runtime's profile (which provider ran each node, how long) to files starting with this (bench/gpu).</param>
    public InferenceSession Create(string modelPath, CancellationToken cancellationToken, bool quantizedWeights = false, bool cudaGraph = false, string? profilePrefix = null)
    {
        using var sessionOptions = Options(Path.GetFileNameWithoutExtension(modelPath), cudaGraph);
        if (profilePrefix is not null)
        {
            // The prefix first: enabling profiling takes the prefix set at that moment.
            sessionOptions.ProfileOutputPathPrefix = profilePrefix;
            sessionOptions.EnableProfiling = true;
        }

        var device = Device;
        using var registration = cancellationToken.Register(() => sessionOptions.SetLoadCancellationFlag(true));
        try
        {
            if (quantizedWeights && device.IsCuda && (device.NativeFp8 || device.PackedFp4))
            {
                var portable = global::Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(modelPath));
                var rewritten = QuantizedLinearRewriter.Rewrite(portable, fp8: device.NativeFp8, fp4: device.PackedFp4);
                if (rewritten.Fp8Linears + rewritten.Fp4Linears > 0)
                {
                    LogFusedKernels(log, Path.GetFileName(modelPath), rewritten.Fp8Linears, rewritten.Fp4Linears);
                    // The graph comes from memory, so ONNX Runtime must be told where its external weights are.
                    sessionOptions.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", Path.GetDirectoryName(Path.GetFullPath(modelPath))!);
                    return new InferenceSession(rewritten.Model.ToByteArray(), sessionOptions);
                }
            }

            return new InferenceSession(modelPath, sessionOptions);
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }

    private SessionOptions Options(string name, bool cudaGraph)
    {
        var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            // WARNING, not ERROR: ONNX Runtime says at creation when it placed nodes on the CPU instead of the GPU.
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING,
            LogId = name,
        };
        var device = Device;
        if (IntraOpThreads(device, options.Value, Environment.ProcessorCount) is { } threads)
        {
            sessionOptions.IntraOpNumThreads = threads;
        }

        if (device.IsCuda)
        {
            using var cuda = new OrtCUDAProviderOptions();
            var providerOptions = new Dictionary<string, string>
            {
                ["device_id"] = device.CudaDeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                // Sizes vary per job: grow the arena by what is asked, not in doubling chunks.
                ["arena_extend_strategy"] = "kSameAsRequested",
                // Exhaustive search re-runs for every new image size; heuristics suit a studio.
                ["cudnn_conv_algo_search"] = "HEURISTIC",
            };
            if (cudaGraph)
            {
                providerOptions["enable_cuda_graph"] = "1";
            }

            if (options.Value.CudaArenaLimitGiB > 0)
            {
                providerOptions["gpu_mem_limit"] = ((long)(options.Value.CudaArenaLimitGiB * (1L << 30))).ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            cuda.UpdateOptions(providerOptions);
            sessionOptions.AppendExecutionProvider_CUDA(cuda);
            sessionOptions.AddSessionConfigEntry("session.use_device_allocator_for_initializers", "1");
        }

        return sessionOptions;
    }

    /// <summary>
    /// ONNX Runtime's intra-op threads per session, or null for its default (one per core). Several CPU
    /// workers run jobs at the same time, each with its own sessions and thread pools: were each to take a
    /// thread per core, N workers would run N threads per core, which thrash caches and switch contexts
    /// until N jobs take longer than running them one by one. So the cores (or <c>Inference:CpuThreads</c>,
    /// when set) are shared out: each worker gets max(1, threads / N). A GPU session keeps the setting as is
    /// (its CPU threads only run what the GPU does not).
    /// </summary>
    internal static int? IntraOpThreads(ExecutionDevice device, InferenceOptions options, int cores)
    {
        if (device.IsCuda || options.CpuWorkers <= 1)
        {
            return options.CpuThreads > 0 ? options.CpuThreads : null;
        }

        var threads = options.CpuThreads > 0 ? options.CpuThreads : cores;
        return Math.Max(1, threads / options.CpuWorkers);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Model}: {Fp8} FP8 linears run as MatMulBlockQuantizedFp8Weight and {Fp4} NVFP4 linears as MatMulBlockQuantizedFp4Weight (weights stay quantized on the GPU)")]
    private static partial void LogFusedKernels(ILogger logger, string model, int fp8, int fp4);
}
