using FluxWeb.Inference.Onnx;

namespace FluxWeb.Inference.Devices;

/// <summary>
/// The probe's decisions, as a pure function of what it found (so every branch is tested on a faked
/// report): CUDA is used only when its libraries load, the driver serves CUDA 13 (R580+), the GPU's
/// architecture is one the CUDA provider has kernels for, and the probe graph really runs on it.
/// </summary>
public static class DevicePolicy
{
    /// <summary>ONNX Runtime 1.31's CUDA build targets CUDA 13, which needs driver branch R580 or newer.</summary>
    public const int MinimumDriverCudaVersion = 13000;

    public const int MinimumDriverBranch = 580;

    /// <summary>Why CUDA cannot be tried at all, from the facts alone (before any graph runs); null when it can.</summary>
    public static string? CudaBlocker(DeviceReport report, int deviceId)
    {
        if (report.MissingLibrary is { } missing)
        {
            return missing == "libcuda.so.1"
                ? "no NVIDIA driver (libcuda.so.1 not found)"
                : $"{missing} could not be loaded (install CUDA 13 and cuDNN 9, or use the Docker image)";
        }

        if (report.QueryFailure is { } failure)
        {
            return $"the NVIDIA driver could not describe CUDA device {deviceId}: {failure}";
        }

        if (report.Gpu is not { } gpu)
        {
            return $"the NVIDIA driver did not describe CUDA device {deviceId}";
        }

        if (gpu.DriverCudaVersion < MinimumDriverCudaVersion)
        {
            var driver = gpu.DriverVersion is { } v ? $"driver {v}" : "the installed driver";
            return $"{driver} serves CUDA {gpu.DriverCudaText}, but ONNX Runtime 1.31's CUDA build needs CUDA 13 (driver R{MinimumDriverBranch} or newer)";
        }

        if (!CudaKernelTargets.Runs(report.KernelTargets, gpu.ComputeMajor, gpu.ComputeMinor) && !report.ProviderHasPtx)
        {
            return $"{gpu.Name} has compute capability {gpu.ComputeCapability}, and ONNX Runtime 1.31's CUDA provider carries kernels only for {CudaKernelTargets.Describe(report.KernelTargets)} (no PTX to compile for other GPUs)";
        }

        return null;
    }

    /// <summary>The device to run on, or an exception when <see cref="DevicePreference.Cuda"/> was asked for and CUDA cannot be used.</summary>
    /// <param name="setting">The setting that asked for this device, as a refusal or the CPU's reason names it (default: <c>Inference:Device</c>).</param>
    public static ExecutionDevice Decide(DevicePreference preference, int deviceId, DeviceReport report, DeviceTarget? setting = null)
    {
        if (preference == DevicePreference.Cpu)
        {
            return Cpu($"CPU selected in configuration ({setting?.CpuChoice ?? DeviceTarget.ConfiguredCpuChoice}).", report);
        }

        var blocker = CudaBlocker(report, deviceId);
        if (blocker is null)
        {
            var float32 = report.CudaGraphs.GetValueOrDefault(ComputePrecision.Float32, "the probe graph was not run on CUDA");
            if (float32 is not null)
            {
                blocker = float32;
            }
        }

        if (blocker is not null)
        {
            if (preference == DevicePreference.Cuda)
            {
                throw new InvalidOperationException($"{setting?.Refusal ?? DeviceTarget.ConfiguredCudaRefusal} but CUDA cannot be used: {blocker}.");
            }

            return Cpu($"{UnavailablePrefix}{blocker}{UnavailableSuffix}", report);
        }

        var gpu = report.Gpu!;
        var unsupported = Unsupported(report.CudaGraphs, "CUDA");
        var ran = Enum.GetValues<ComputePrecision>().Where(p => !unsupported.ContainsKey(p.ManifestName())).Select(p => p.ManifestName());
        var driver = gpu.DriverVersion is { } v ? $"driver {v}, " : "";
        return new ExecutionDevice(
            ExecutionDeviceKind.Cuda,
            deviceId,
            $"CUDA device {deviceId}: {gpu.Name} (compute capability {gpu.ComputeCapability}, {driver}CUDA {gpu.DriverCudaText}, {gpu.TotalBytes / (double)(1L << 30):0.0} GiB); the probe graph ran on CUDA in {string.Join(", ", ran)}.")
        {
            Gpu = gpu,
            UnsupportedPrecisions = unsupported,
        };
    }

    private const string UnavailablePrefix = "CUDA unavailable: ";
    private const string UnavailableSuffix = ". Running on CPU.";

    /// <summary>Why a CUDA device was not used, from the CPU decision an Auto probe made instead (its reason less "Running on CPU").</summary>
    public static string WhyNotCuda(ExecutionDevice fallback) =>
        fallback.Reason.StartsWith(UnavailablePrefix, StringComparison.Ordinal) && fallback.Reason.EndsWith(UnavailableSuffix, StringComparison.Ordinal)
            ? fallback.Reason[UnavailablePrefix.Length..^UnavailableSuffix.Length]
            : fallback.Reason;

    private static ExecutionDevice Cpu(string reason, DeviceReport report) => new(ExecutionDeviceKind.Cpu, 0, reason)
    {
        Gpu = report.Gpu,
        UnsupportedPrecisions = Unsupported(report.CpuGraphs, "CPU"),
    };

    private static Dictionary<string, string> Unsupported(IReadOnlyDictionary<ComputePrecision, string?> graphs, string device)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var precision in Enum.GetValues<ComputePrecision>())
        {
            if (!graphs.TryGetValue(precision, out var failure))
            {
                result[precision.ManifestName()] = $"{precision.ManifestName()} was not tried on the {device}";
            }
            else if (failure is not null)
            {
                result[precision.ManifestName()] = failure;
            }
        }

        return result;
    }
}
