using FluxWeb.Inference.Onnx;

namespace FluxWeb.Inference.Devices;

public enum ExecutionDeviceKind
{
    Cpu,
    Cuda,
}

/// <summary>
/// Where inference runs, and why: shown on /healthz, in the Studio and the admin pages so nobody
/// wonders why it is slow. <see cref="UnsupportedPrecisions"/> says which compute precisions this
/// device cannot run and why, so packages needing them are listed as unusable instead of failing
/// every job.
/// </summary>
public sealed record ExecutionDevice(ExecutionDeviceKind Kind, int CudaDeviceId, string Reason)
{
    public bool IsCuda => Kind == ExecutionDeviceKind.Cuda;

    /// <summary>The GPU as the driver described it (also when it was refused); null on machines without one.</summary>
    public CudaDeviceFacts? Gpu { get; init; }

    /// <summary>Compute precision (manifest name: fp32, fp16, bf16) → why this device cannot run it. Absent: it can.</summary>
    public IReadOnlyDictionary<string, string> UnsupportedPrecisions { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// FP8 weights can stay FP8 in memory with ONNX Runtime's MatMulBlockQuantizedFp8Weight: used from
    /// compute capability 8.9 (Ada, Hopper, Blackwell), which convert FP8 in hardware.
    /// </summary>
    public bool NativeFp8 => IsCuda && Gpu is { } gpu && (gpu.ComputeMajor > 8 || (gpu.ComputeMajor == 8 && gpu.ComputeMinor >= 9));

    /// <summary>NVFP4 weights stay packed with MatMulBlockQuantizedFp4Weight, which ONNX Runtime runs on every CUDA GPU (natively FP4 only on sm_120).</summary>
    public bool PackedFp4 => IsCuda;

    public string Name => IsCuda ? $"CUDA device {CudaDeviceId}{(Gpu is { } g ? $" ({g.Name})" : "")}" : "CPU";

    /// <summary>Why a package computing in <paramref name="compute"/> (manifest name) cannot run here, or null.</summary>
    public string? PrecisionProblem(string compute) => UnsupportedPrecisions.GetValueOrDefault(compute);

    public string? PrecisionProblem(ComputePrecision compute) => PrecisionProblem(compute.ManifestName());
}

public enum DevicePreference
{
    /// <summary>CUDA when the probe really runs on it, otherwise CPU.</summary>
    Auto,
    Cpu,
    Cuda,
}
