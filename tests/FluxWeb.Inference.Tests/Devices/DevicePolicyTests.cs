using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Onnx;

namespace FluxWeb.Inference.Tests.Devices;

/// <summary>The probe's decisions on faked device reports: every way a GPU box can fail its first day.</summary>
public sealed class DevicePolicyTests
{
    internal static CudaDeviceFacts Gpu(int major, int minor, string driver = "580.65.06", int cuda = 13000, string name = "NVIDIA Test GPU") =>
        new(driver, cuda, 1, name, major, minor, 80L << 30, 79L << 30);

    internal static IReadOnlyDictionary<ComputePrecision, string?> AllRan { get; } = new Dictionary<ComputePrecision, string?>
    {
        [ComputePrecision.Float32] = null,
        [ComputePrecision.Float16] = null,
        [ComputePrecision.BFloat16] = null,
    };

    internal static IReadOnlyDictionary<ComputePrecision, string?> CpuLikeThisMachine { get; } = new Dictionary<ComputePrecision, string?>
    {
        [ComputePrecision.Float32] = null,
        [ComputePrecision.Float16] = null,
        [ComputePrecision.BFloat16] = "ONNX Runtime's CPU provider has no bf16 FusedMatMul kernel",
    };

    private static DeviceReport Working(CudaDeviceFacts gpu) => new() { Gpu = gpu, CudaGraphs = AllRan, CpuGraphs = CpuLikeThisMachine };

    [Fact]
    public void A_working_gpu_runs_on_cuda_and_says_what_it_is()
    {
        var device = DevicePolicy.Decide(DevicePreference.Auto, 0, Working(Gpu(9, 0, name: "NVIDIA H200")));

        Assert.True(device.IsCuda);
        Assert.Empty(device.UnsupportedPrecisions);
        Assert.StartsWith("CUDA device 0: NVIDIA H200 (compute capability 9.0, driver 580.65.06, CUDA 13.0, 80.0 GiB)", device.Reason, StringComparison.Ordinal);
        Assert.Contains("fp32, fp16, bf16", device.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_a_driver_auto_falls_back_to_the_cpu_and_cuda_refuses()
    {
        var report = new DeviceReport { MissingLibrary = "libcuda.so.1", CpuGraphs = CpuLikeThisMachine };

        var device = DevicePolicy.Decide(DevicePreference.Auto, 0, report);
        var error = Assert.Throws<InvalidOperationException>(() => DevicePolicy.Decide(DevicePreference.Cuda, 0, report));

        Assert.Equal(ExecutionDeviceKind.Cpu, device.Kind);
        Assert.Equal("CUDA unavailable: no NVIDIA driver (libcuda.so.1 not found). Running on CPU.", device.Reason);
        Assert.Equal("ONNX Runtime's CPU provider has no bf16 FusedMatMul kernel", device.PrecisionProblem("bf16"));
        Assert.Equal("Inference:Device is Cuda but CUDA cannot be used: no NVIDIA driver (libcuda.so.1 not found).", error.Message);
    }

    [Fact]
    public void A_missing_cudnn_names_the_library()
    {
        var device = DevicePolicy.Decide(DevicePreference.Auto, 0, new DeviceReport { MissingLibrary = "libcudnn.so.9", CpuGraphs = CpuLikeThisMachine });

        Assert.Contains("libcudnn.so.9 could not be loaded (install CUDA 13 and cuDNN 9, or use the Docker image)", device.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("570.124.06", 12080, "driver 570.124.06 serves CUDA 12.8")]
    [InlineData(null, 12040, "the installed driver serves CUDA 12.4")]
    public void A_driver_older_than_r580_is_refused_with_its_version(string? driver, int cuda, string expected)
    {
        var report = Working(Gpu(9, 0, driver: driver!, cuda: cuda)) with { CudaGraphs = new Dictionary<ComputePrecision, string?>() };

        var device = DevicePolicy.Decide(DevicePreference.Auto, 0, report);

        Assert.False(device.IsCuda);
        Assert.Contains(expected, device.Reason, StringComparison.Ordinal);
        Assert.Contains("needs CUDA 13 (driver R580 or newer)", device.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_forward_compatibility_driver_that_serves_cuda_13_is_accepted()
    {
        // NVML reports the kernel driver (535); the compat libcuda serves CUDA 13, which is what ONNX Runtime loads.
        var device = DevicePolicy.Decide(DevicePreference.Auto, 0, Working(Gpu(9, 0, driver: "535.230.02", cuda: 13000)));

        Assert.True(device.IsCuda);
    }

    [Theory]
    [InlineData(7, 0, "Tesla V100-SXM2-32GB", false)]
    [InlineData(7, 5, "Tesla T4", true)]
    [InlineData(8, 0, "NVIDIA A100", true)]
    [InlineData(8, 6, "NVIDIA RTX A6000", true)]
    [InlineData(8, 7, "Orin (sm_86 code runs on 8.7)", true)]
    [InlineData(8, 9, "NVIDIA L40S", true)]
    [InlineData(9, 0, "NVIDIA H200", true)]
    [InlineData(10, 0, "NVIDIA B200", false)]
    [InlineData(10, 3, "NVIDIA B300", false)]
    [InlineData(11, 0, "Thor", false)]
    [InlineData(12, 0, "NVIDIA GeForce RTX 5090", true)]
    [InlineData(12, 1, "NVIDIA GB10 (sm_120 code runs on 12.1)", true)]
    public void The_compute_capability_must_be_one_the_provider_has_kernels_for(int major, int minor, string name, bool usable)
    {
        var device = DevicePolicy.Decide(DevicePreference.Auto, 0, Working(Gpu(major, minor, name: name)));

        Assert.Equal(usable, device.IsCuda);
        if (!usable)
        {
            Assert.Contains($"{name} has compute capability {major}.{minor}, and ONNX Runtime 1.31's CUDA provider carries kernels only for sm_75, sm_80, sm_86, sm_89, sm_90, sm_120 (no PTX to compile for other GPUs)", device.Reason, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_provider_with_ptx_would_let_a_newer_gpu_through()
    {
        var device = DevicePolicy.Decide(DevicePreference.Auto, 0, Working(Gpu(10, 0)) with { ProviderHasPtx = true });

        Assert.True(device.IsCuda);
    }

    [Fact]
    public void An_unsupported_architecture_with_device_cuda_fails_start_up_with_the_reason()
    {
        var error = Assert.Throws<InvalidOperationException>(() => DevicePolicy.Decide(DevicePreference.Cuda, 0, Working(Gpu(10, 0, name: "NVIDIA B200"))));

        Assert.Contains("NVIDIA B200 has compute capability 10.0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void When_only_bf16_fails_on_cuda_the_gpu_is_used_and_bf16_packages_are_marked()
    {
        var graphs = new Dictionary<ComputePrecision, string?>(AllRan) { [ComputePrecision.BFloat16] = "ONNX Runtime's CUDA provider has no bf16 FusedMatMul kernel" };

        var device = DevicePolicy.Decide(DevicePreference.Cuda, 0, Working(Gpu(7, 5, name: "Tesla T4")) with { CudaGraphs = graphs });

        Assert.True(device.IsCuda);
        Assert.Equal(["bf16"], device.UnsupportedPrecisions.Keys);
        Assert.Contains("ran on CUDA in fp32, fp16.", device.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void When_the_float32_graph_fails_on_cuda_auto_falls_back_with_what_failed()
    {
        var graphs = new Dictionary<ComputePrecision, string?>(AllRan) { [ComputePrecision.Float32] = "the fp32 probe graph failed on CUDA: CUDNN_STATUS_NOT_INITIALIZED" };

        var device = DevicePolicy.Decide(DevicePreference.Auto, 0, Working(Gpu(9, 0)) with { CudaGraphs = graphs });

        Assert.False(device.IsCuda);
        Assert.Equal("CUDA unavailable: the fp32 probe graph failed on CUDA: CUDNN_STATUS_NOT_INITIALIZED. Running on CPU.", device.Reason);
        Assert.NotNull(device.Gpu);
    }

    [Fact]
    public void A_driver_that_cannot_describe_the_device_is_named()
    {
        var device = DevicePolicy.Decide(DevicePreference.Auto, 1, new DeviceReport { QueryFailure = "there is no CUDA device 1 (the driver sees 1)", CpuGraphs = CpuLikeThisMachine });

        Assert.Equal("CUDA unavailable: the NVIDIA driver could not describe CUDA device 1: there is no CUDA device 1 (the driver sees 1). Running on CPU.", device.Reason);
    }

    [Theory]
    [InlineData(8, 6, false)]
    [InlineData(8, 9, true)]
    [InlineData(9, 0, true)]
    [InlineData(12, 0, true)]
    public void Fp8_weights_stay_fp8_from_compute_capability_8_9(int major, int minor, bool native)
    {
        Assert.Equal(native, DevicePolicy.Decide(DevicePreference.Auto, 0, Working(Gpu(major, minor))).NativeFp8);
        Assert.False(DevicePolicy.Decide(DevicePreference.Cpu, 0, Working(Gpu(major, minor))).NativeFp8);
    }
}
