using FluxWeb.Inference.Onnx;

namespace FluxWeb.Inference.Devices;

/// <summary>
/// One device a probe asks about: CPU, or a CUDA device with Auto (fall back to the CPU, with the reason) or
/// Cuda (refuse, and say which setting asked for it).
/// </summary>
/// <param name="Refusal">What asked for CUDA, as a refusal names it ("… but CUDA cannot be used").</param>
/// <param name="CpuChoice">What chose the CPU, as the device's reason names it.</param>
public sealed record DeviceTarget(DevicePreference Preference, int CudaDeviceId, string Refusal, string CpuChoice = DeviceTarget.ConfiguredCpuChoice)
{
    public const string ConfiguredCudaRefusal = "Inference:Device is Cuda";
    public const string ConfiguredCpuChoice = "Inference:Device = Cpu";

    /// <summary><c>Inference:Device</c> and <c>Inference:CudaDeviceId</c>, as before <c>Inference:Devices</c> existed.</summary>
    public static DeviceTarget Configured(InferenceOptions options) => new(options.Device, options.CudaDeviceId, ConfiguredCudaRefusal);

    public static DeviceTarget Cpu { get; } = new(DevicePreference.Cpu, 0, "", $"{DeviceSelection.DevicesSetting} = cpu");

    /// <summary>A device listed by id: it must work, or the process refuses to start.</summary>
    public static DeviceTarget Listed(int cudaDeviceId) => new(DevicePreference.Cuda, cudaDeviceId, $"{DeviceSelection.DevicesSetting} lists cuda:{cudaDeviceId}");

    /// <summary>A device found by <c>all</c>: used when it works, otherwise skipped with the reason (the plan decides what no usable device means).</summary>
    public static DeviceTarget Found(int cudaDeviceId) => new(DevicePreference.Auto, cudaDeviceId, AllRefusal);

    public const string AllRefusal = $"{DeviceSelection.DevicesSetting} is all and Inference:Device is Cuda";
}

/// <summary>What the probe reads from the machine, replaceable so tests can stand in a GPU box's libraries and graphs.</summary>
internal sealed record ProbeEnvironment(
    Func<string?> MissingCudaLibrary,
    Func<(IReadOnlyList<(int Major, int Minor)> Cubins, bool Ptx)?> KernelTargets,
    Func<int, IReadOnlyDictionary<ComputePrecision, string?>> CudaGraphs,
    Func<IReadOnlyDictionary<ComputePrecision, string?>> CpuGraphs)
{
    public static ProbeEnvironment Machine { get; } = new(
        ExecutionDeviceProbe.FirstMissingCudaLibrary,
        ExecutionDeviceProbe.ReadKernelTargets,
        ExecutionDeviceProbe.RunCudaGraphs,
        () => ExecutionDeviceProbe.CpuGraphs);
}
