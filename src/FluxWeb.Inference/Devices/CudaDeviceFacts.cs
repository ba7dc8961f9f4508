namespace FluxWeb.Inference.Devices;

/// <summary>What the NVIDIA driver says about one GPU, read before ONNX Runtime touches it.</summary>
/// <param name="DriverVersion">The kernel driver's version from NVML (e.g. "580.65.06"); null when NVML could not be read.</param>
/// <param name="DriverCudaVersion">The newest CUDA the loaded libcuda serves (cuDriverGetVersion: 13000 is CUDA 13.0), forward-compatibility packages included.</param>
/// <param name="DeviceCount">GPUs the driver sees.</param>
/// <param name="Name">The device's name (e.g. "NVIDIA H200").</param>
/// <param name="FreeBytes">Free device memory when asked (cudaMemGetInfo); null when the runtime could not say.</param>
public sealed record CudaDeviceFacts(
    string? DriverVersion,
    int DriverCudaVersion,
    int DeviceCount,
    string Name,
    int ComputeMajor,
    int ComputeMinor,
    long TotalBytes,
    long? FreeBytes)
{
    /// <summary>"9.0", as NVIDIA writes compute capabilities.</summary>
    public string ComputeCapability => $"{ComputeMajor}.{ComputeMinor}";

    /// <summary>The driver branch (580 of "580.65.06"); null when NVML gave no version.</summary>
    public int? DriverBranch => DriverVersion is { } v && int.TryParse(v.Split('.')[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var major) ? major : null;

    public string DriverCudaText => $"{DriverCudaVersion / 1000}.{DriverCudaVersion % 1000 / 10}";
}

/// <summary>Asks the NVIDIA driver and CUDA runtime about a GPU. Faked in tests; <see cref="CudaNative"/> on real machines.</summary>
public interface ICudaDeviceQuery
{
    /// <summary>Facts about <paramref name="deviceId"/>; throws <see cref="CudaQueryException"/> with the driver's own words when it cannot.</summary>
    CudaDeviceFacts Query(int deviceId);

    /// <summary>Free device memory right now (what a budget can really use), or null when the runtime cannot say.</summary>
    long? FreeBytes(int deviceId);
}

public sealed class CudaQueryException(string message) : Exception(message);
