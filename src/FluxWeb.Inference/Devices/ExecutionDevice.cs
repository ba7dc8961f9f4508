namespace FluxWeb.Inference.Devices;

public enum ExecutionDeviceKind
{
    Cpu,
    Cuda,
}

/// <summary>Where inference runs, and why: shown on /healthz and in the UI so nobody wonders why it is slow.</summary>
public sealed record ExecutionDevice(ExecutionDeviceKind Kind, int CudaDeviceId, string Reason)
{
    public bool IsCuda => Kind == ExecutionDeviceKind.Cuda;
}

public enum DevicePreference
{
    /// <summary>CUDA when a probe session really runs on it, otherwise CPU.</summary>
    Auto,
    Cpu,
    Cuda,
}
