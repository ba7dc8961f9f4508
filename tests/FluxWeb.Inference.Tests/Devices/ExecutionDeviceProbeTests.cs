using FluxWeb.Inference;
using FluxWeb.Inference.Devices;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FluxWeb.Inference.Tests.Devices;

public sealed class ExecutionDeviceProbeTests
{
    private static ExecutionDeviceProbe Probe(DevicePreference preference) =>
        new(Options.Create(new InferenceOptions { Device = preference }), NullLogger<ExecutionDeviceProbe>.Instance);

    [Fact]
    public void The_probe_graph_computes_a_box_filter_on_the_cpu()
    {
        using var session = new InferenceSession(ExecutionDeviceProbe.ConvProbeModel());
        var input = new DenseTensor<float>(Enumerable.Range(0, 16).Select(i => (float)i).ToArray(), [1, 1, 4, 4]);

        using var results = session.Run([NamedOnnxValue.CreateFromTensor("x", input)]);

        Assert.Equal([45f, 54f, 81f, 90f], results[0].AsTensor<float>().ToArray());
    }

    [Fact]
    public void Cpu_preference_skips_the_probe_and_says_so()
    {
        var device = Probe(DevicePreference.Cpu).Device;

        Assert.Equal(ExecutionDeviceKind.Cpu, device.Kind);
        Assert.Contains("Inference:Device = Cpu", device.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Auto_matches_what_the_machine_really_has_and_explains_a_fallback()
    {
        var device = Probe(DevicePreference.Auto).Device;
        var missing = ExecutionDeviceProbe.FirstMissingCudaLibrary();

        if (missing is not null)
        {
            Assert.Equal(ExecutionDeviceKind.Cpu, device.Kind);
            Assert.StartsWith("CUDA unavailable: ", device.Reason, StringComparison.Ordinal);
            Assert.Contains(missing, device.Reason, StringComparison.Ordinal);
            Assert.EndsWith("Running on CPU.", device.Reason, StringComparison.Ordinal);
        }
        else
        {
            // On a GPU machine the libraries load; the Conv probe decides.
            Assert.True(device.IsCuda || device.Reason.StartsWith("CUDA unavailable", StringComparison.Ordinal), device.Reason);
        }
    }

    [Fact]
    public void Cuda_preference_fails_loudly_when_cuda_does_not_work()
    {
        if (ExecutionDeviceProbe.FirstMissingCudaLibrary() is null)
        {
            return; // A working CUDA machine cannot show this failure.
        }

        var error = Assert.Throws<InvalidOperationException>(() => Probe(DevicePreference.Cuda).Device);
        Assert.Contains("Inference:Device is Cuda", error.Message, StringComparison.Ordinal);
    }
}
