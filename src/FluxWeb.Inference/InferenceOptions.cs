using FluxWeb.Inference.Devices;

namespace FluxWeb.Inference;

public sealed class InferenceOptions
{
    public const string SectionName = "Inference";

    public DevicePreference Device { get; set; } = DevicePreference.Auto;

    public int CudaDeviceId { get; set; }
}
