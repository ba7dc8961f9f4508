using FluxWeb.Inference.Onnx;

namespace FluxWeb.Inference.Devices;

/// <summary>
/// Everything the probe found out, before deciding anything: which CUDA library did not load, what
/// the driver said about the GPU, which architectures the CUDA provider was compiled for, and how
/// the precision probe graph fared on CUDA and on the CPU (null: ran and matched).
/// </summary>
public sealed record DeviceReport
{
    public string? MissingLibrary { get; init; }

    public CudaDeviceFacts? Gpu { get; init; }

    /// <summary>The driver could not be asked (its own words).</summary>
    public string? QueryFailure { get; init; }

    public IReadOnlyList<(int Major, int Minor)> KernelTargets { get; init; } = CudaKernelTargets.OnnxRuntime131;

    /// <summary>The provider library was found to carry PTX (which the driver could compile for newer GPUs).</summary>
    public bool ProviderHasPtx { get; init; }

    /// <summary>The precision graph on CUDA with CPU fallback disabled; empty when it was not tried (an earlier check failed).</summary>
    public IReadOnlyDictionary<ComputePrecision, string?> CudaGraphs { get; init; } = new Dictionary<ComputePrecision, string?>();

    /// <summary>The precision graph on the CPU provider.</summary>
    public IReadOnlyDictionary<ComputePrecision, string?> CpuGraphs { get; init; } = new Dictionary<ComputePrecision, string?>();
}
