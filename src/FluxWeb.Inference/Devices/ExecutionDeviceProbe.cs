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
        : this(DeviceTarget.Configured(options.Value), logger, cuda, ProbeEnvironment.Machine)
    {
    }

    /// <summary>For tests: decide on a report made up by the test.</summary>
    internal ExecutionDeviceProbe(IOptions<InferenceOptions> options, ILogger<ExecutionDeviceProbe> logger, ICudaDeviceQuery cuda, Func<DeviceReport> report)
        : this(DeviceTarget.Configured(options.Value), logger, cuda, report)
    {
    }

    /// <summary>One device of <c>Inference:Devices</c>, probed on this machine (<paramref name="environment"/>: the machine, or a test's stand-in for its libraries and graphs).</summary>
    /// <remarks>Without a <paramref name="logger"/> the decision is not logged: the caller says what it made of it.</remarks>
    internal ExecutionDeviceProbe(DeviceTarget target, ILogger<ExecutionDeviceProbe>? logger, ICudaDeviceQuery cuda, ProbeEnvironment environment)
        : this(target, logger, cuda, () => Gather(target, cuda, environment))
    {
    }

    /// <summary>A device decided elsewhere (<c>all</c>: the first CUDA device that works), with the probe's shape for what is built on it.</summary>
    internal ExecutionDeviceProbe(DeviceTarget target, ICudaDeviceQuery cuda, Func<ExecutionDevice> decide)
    {
        Cuda = cuda;
        Target = target;
        device = new Lazy<ExecutionDevice>(decide);
    }

    private ExecutionDeviceProbe(DeviceTarget target, ILogger<ExecutionDeviceProbe>? logger, ICudaDeviceQuery cuda, Func<DeviceReport> report)
        : this(target, cuda, () =>
        {
            var decided = DevicePolicy.Decide(target.Preference, target.CudaDeviceId, report(), target);
            return logger is null ? decided : Report(logger, decided);
        })
    {
    }

    /// <summary>The device this probe asks about, and how a refusal names the setting.</summary>
    internal DeviceTarget Target { get; }

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

    private static DeviceReport Gather(DeviceTarget target, ICudaDeviceQuery cuda, ProbeEnvironment environment)
    {
        var report = new DeviceReport { CpuGraphs = environment.CpuGraphs() };
        if (target.Preference == DevicePreference.Cpu)
        {
            return report;
        }

        report = report with { MissingLibrary = environment.MissingCudaLibrary() };
        if (report.MissingLibrary is null)
        {
            try
            {
                report = report with { Gpu = cuda.Query(target.CudaDeviceId) };
            }
            catch (CudaQueryException ex)
            {
                report = report with { QueryFailure = ex.Message };
            }

            if (environment.KernelTargets() is { } targets)
            {
                report = report with { KernelTargets = targets.Cubins, ProviderHasPtx = targets.Ptx };
            }
        }

        if (DevicePolicy.CudaBlocker(report, target.CudaDeviceId) is null)
        {
            report = report with { CudaGraphs = environment.CudaGraphs(target.CudaDeviceId) };
        }

        return report;
    }

    /// <summary>The kernel architectures in the CUDA provider's library, or null (not found, unreadable: the compiled-in list stands in).</summary>
    internal static (IReadOnlyList<(int Major, int Minor)> Cubins, bool Ptx)? ReadKernelTargets()
    {
        if (CudaKernelTargets.FindProviderLibrary() is not { } provider)
        {
            return null;
        }

        try
        {
            var (cubins, ptx) = CudaKernelTargets.ReadFatbin(provider);
            return (cubins, ptx);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            // The compiled-in list (checked against 1.31.0's library by a test) stands in.
            return null;
        }
    }

    /// <summary>The precision graph on one CUDA device, with CPU fallback disabled.</summary>
    internal static IReadOnlyDictionary<ComputePrecision, string?> RunCudaGraphs(int deviceId) => RunGraphs("CUDA", _ =>
    {
        var sessionOptions = new SessionOptions();
        sessionOptions.AppendExecutionProvider_CUDA(deviceId);
        // Without this ONNX Runtime would quietly run what CUDA cannot on the CPU, and the probe would lie.
        sessionOptions.AddSessionConfigEntry("session.disable_cpu_ep_fallback", "1");
        return sessionOptions;
    });

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

    internal static ExecutionDevice Report(ILogger logger, ExecutionDevice device)
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
