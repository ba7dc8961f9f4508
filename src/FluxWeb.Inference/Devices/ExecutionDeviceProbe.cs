using FluxWeb.Inference.Onnx;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace FluxWeb.Inference.Devices;

/// <summary>
/// Decides once per process where inference runs, and which compute precisions can run there.
/// ONNX Runtime lists CUDA as available even without a GPU (a compile-time list), and a GPU can
/// load the libraries and still fail later (old driver, an architecture the provider has no
/// kernels for, no bf16 kernels), so the probe asks the driver, checks the provider's kernel list,
/// and runs a small graph of klein's own operators in every precision with CPU fallback disabled.
/// What it found is a <see cref="DeviceReport"/>; <see cref="DevicePolicy"/> decides.
/// </summary>
public sealed partial class ExecutionDeviceProbe
{
    private readonly Lazy<ExecutionDevice> device;

    public ExecutionDeviceProbe(IOptions<InferenceOptions> options, ILogger<ExecutionDeviceProbe> logger)
        : this(options, logger, new CudaNative())
    {
    }

    public ExecutionDeviceProbe(IOptions<InferenceOptions> options, ILogger<ExecutionDeviceProbe> logger, ICudaDeviceQuery cuda)
        : this(options, logger, cuda, () => Gather(options.Value, cuda))
    {
    }

    /// <summary>For tests: decide on a report made up by the test.</summary>
    internal ExecutionDeviceProbe(IOptions<InferenceOptions> options, ILogger<ExecutionDeviceProbe> logger, ICudaDeviceQuery cuda, Func<DeviceReport> report)
    {
        Cuda = cuda;
        device = new Lazy<ExecutionDevice>(() => Report(logger, DevicePolicy.Decide(options.Value.Device, options.Value.CudaDeviceId, report())));
    }

    public ExecutionDevice Device => device.Value;

    public bool HasProbed => device.IsValueCreated;

    /// <summary>Where the memory budget asks for free device memory.</summary>
    public ICudaDeviceQuery Cuda { get; }

    /// <summary>The CUDA 13 libraries ONNX Runtime 1.31's CUDA provider links against (cuDNN loads at the first Conv).</summary>
    internal static readonly string[] CudaLibraries = ["libcuda.so.1", "libcudart.so.13", "libcublasLt.so.13", "libcublas.so.13", "libcurand.so.10", "libcudnn.so.9"];

    internal static string? FirstMissingCudaLibrary()
    {
        foreach (var library in CudaLibraries)
        {
            if (!System.Runtime.InteropServices.NativeLibrary.TryLoad(library, out var handle))
            {
                return library;
            }

            System.Runtime.InteropServices.NativeLibrary.Free(handle);
        }

        return null;
    }

    /// <summary>The precision graph on the CPU: the same answer for the whole process, so it runs once.</summary>
    internal static IReadOnlyDictionary<ComputePrecision, string?> CpuGraphs => CpuGraphResults.Value;

    private static readonly Lazy<IReadOnlyDictionary<ComputePrecision, string?>> CpuGraphResults = new(() => RunGraphs("CPU", _ => new SessionOptions()));

    private static DeviceReport Gather(InferenceOptions options, ICudaDeviceQuery cuda)
    {
        var report = new DeviceReport { CpuGraphs = CpuGraphs };
        if (options.Device == DevicePreference.Cpu)
        {
            return report;
        }

        report = report with { MissingLibrary = FirstMissingCudaLibrary() };
        if (report.MissingLibrary is null)
        {
            try
            {
                report = report with { Gpu = cuda.Query(options.CudaDeviceId) };
            }
            catch (CudaQueryException ex)
            {
                report = report with { QueryFailure = ex.Message };
            }

            if (CudaKernelTargets.FindProviderLibrary() is { } provider)
            {
                try
                {
                    var (cubins, ptx) = CudaKernelTargets.ReadFatbin(provider);
                    report = report with { KernelTargets = cubins, ProviderHasPtx = ptx };
                }
                catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
                {
                    // The compiled-in list (checked against 1.31.0's library by a test) stands in.
                }
            }
        }

        if (DevicePolicy.CudaBlocker(report, options.CudaDeviceId) is null)
        {
            report = report with
            {
                CudaGraphs = RunGraphs("CUDA", _ =>
                {
                    var sessionOptions = new SessionOptions();
                    sessionOptions.AppendExecutionProvider_CUDA(options.CudaDeviceId);
                    // Without this ONNX Runtime would quietly run what CUDA cannot on the CPU, and the probe would lie.
                    sessionOptions.AddSessionConfigEntry("session.disable_cpu_ep_fallback", "1");
                    return sessionOptions;
                }),
            };
        }

        return report;
    }

    private static Dictionary<ComputePrecision, string?> RunGraphs(string provider, Func<ComputePrecision, SessionOptions> sessionOptions)
    {
        var results = new Dictionary<ComputePrecision, string?>();
        foreach (var precision in Enum.GetValues<ComputePrecision>())
        {
            try
            {
                using var options = sessionOptions(precision);
                results[precision] = PrecisionProbeGraph.Check(precision, PrecisionProbeGraph.Run(precision, options));
            }
            catch (Exception ex) when (ex is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
            {
                results[precision] = PrecisionProbeGraph.Explain(precision, provider, ex);
            }
        }

        return results;
    }

    private static ExecutionDevice Report(ILogger logger, ExecutionDevice device)
    {
        LogDevice(logger, device.Kind, device.Reason);
        foreach (var (precision, why) in device.UnsupportedPrecisions.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            LogUnsupported(logger, precision, device.Name, why);
        }

        return device;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Inference device: {Kind}. {Reason}")]
    private static partial void LogDevice(ILogger logger, ExecutionDeviceKind kind, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Precision} packages cannot run on the {Device}: {Why}. They are listed as unusable.")]
    private static partial void LogUnsupported(ILogger logger, string precision, string device, string why);
}
