using FluxWeb.Inference;
using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Onnx;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.Devices;

/// <summary>The probe on this machine (no GPU): what the CPU provider really runs, and how a fallback is explained.</summary>
public sealed class ExecutionDeviceProbeTests(ITestOutputHelper output)
{
    private static ExecutionDeviceProbe Probe(DevicePreference preference) =>
        new(Options.Create(new InferenceOptions { Device = preference }), NullLogger<ExecutionDeviceProbe>.Instance);

    [Fact]
    public void The_probe_graph_runs_in_float32_and_float16_on_the_cpu_but_not_in_bfloat16()
    {
        var results = ExecutionDeviceProbe.CpuGraphs;

        foreach (var (precision, failure) in results)
        {
            output.WriteLine($"{precision}: {failure ?? "ran and matched the float32 reference"}");
        }

        Assert.Null(results[ComputePrecision.Float32]);
        Assert.Null(results[ComputePrecision.Float16]);
        Assert.Equal("ONNX Runtime's CPU provider has no bf16 FusedMatMul kernel", results[ComputePrecision.BFloat16]);
    }

    [Fact]
    public void The_probe_graph_really_contains_the_operators_klein_runs_on()
    {
        var model = global::Onnx.ModelProto.Parser.ParseFrom(PrecisionProbeGraph.Build(ComputePrecision.BFloat16));

        Assert.Superset(
            new HashSet<string> { "FusedMatMul", "SimplifiedLayerNormalization", "RotaryEmbedding", "MultiHeadAttention", "Conv" },
            model.Graph.Node.Select(n => n.OpType).ToHashSet());
        Assert.Contains(model.Graph.Node, n => n.OpType == "Cast" && n.Attribute.Single().I == (long)global::Onnx.TensorProto.Types.DataType.Bfloat16);
        // Head size 128, the size klein's attention uses (and the one flash attention kernels take).
        Assert.Equal(2, model.Graph.Node.Single(n => n.OpType == "MultiHeadAttention").Attribute.Single(a => a.Name == "num_heads").I);
    }

    [Fact]
    public void A_wrong_answer_counts_as_a_failure_even_when_nothing_throws()
    {
        var wrong = PrecisionProbeGraph.Reference.Select(v => v * 1.5f).ToArray();
        var nan = PrecisionProbeGraph.Reference.Select((v, i) => i == 7 ? float.NaN : v).ToArray();

        Assert.Null(PrecisionProbeGraph.Check(ComputePrecision.BFloat16, PrecisionProbeGraph.Reference));
        Assert.Contains("wrong values", PrecisionProbeGraph.Check(ComputePrecision.BFloat16, wrong), StringComparison.Ordinal);
        Assert.Contains("NaN", PrecisionProbeGraph.Check(ComputePrecision.Float16, nan), StringComparison.Ordinal);
    }

    [Fact]
    public void Cpu_preference_skips_cuda_and_says_which_precisions_the_cpu_cannot_run()
    {
        var device = Probe(DevicePreference.Cpu).Device;

        Assert.Equal(ExecutionDeviceKind.Cpu, device.Kind);
        Assert.Contains("Inference:Device = Cpu", device.Reason, StringComparison.Ordinal);
        Assert.Equal(["bf16"], device.UnsupportedPrecisions.Keys);
        Assert.Null(device.PrecisionProblem("fp16"));
    }

    [Fact]
    public void Auto_matches_what_the_machine_really_has_and_explains_a_fallback()
    {
        var device = Probe(DevicePreference.Auto).Device;
        var missing = ExecutionDeviceProbe.FirstMissingCudaLibrary();
        output.WriteLine(device.Reason);

        if (missing is not null)
        {
            Assert.Equal(ExecutionDeviceKind.Cpu, device.Kind);
            Assert.StartsWith("CUDA unavailable: ", device.Reason, StringComparison.Ordinal);
            Assert.Contains(missing, device.Reason, StringComparison.Ordinal);
            Assert.EndsWith("Running on CPU.", device.Reason, StringComparison.Ordinal);
            Assert.Contains("bf16", device.UnsupportedPrecisions.Keys);
        }
        else
        {
            // On a GPU machine the libraries load; the driver, the kernel list and the graphs decide.
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
        Assert.StartsWith("Inference:Device is Cuda but CUDA cannot be used: ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Startup_with_device_cuda_refuses_to_start_when_cuda_does_not_work()
    {
        if (ExecutionDeviceProbe.FirstMissingCudaLibrary() is null)
        {
            return;
        }

        var options = Options.Create(new InferenceOptions { Device = DevicePreference.Cuda });
        var startup = new InferenceStartup(new DevicePlan(options, new CudaNative(), NullLogger<ExecutionDeviceProbe>.Instance));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => startup.StartAsync(CancellationToken.None));
        Assert.Contains("CUDA cannot be used", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_probe_decides_on_the_report_it_gathered_and_keeps_the_answer()
    {
        var calls = 0;
        var report = new DeviceReport
        {
            Gpu = DevicePolicyTests.Gpu(8, 6),
            CpuGraphs = DevicePolicyTests.CpuLikeThisMachine,
            CudaGraphs = DevicePolicyTests.AllRan,
        };
        var probe = new ExecutionDeviceProbe(Options.Create(new InferenceOptions()), NullLogger<ExecutionDeviceProbe>.Instance, new CudaNative(), () =>
        {
            calls++;
            return report;
        });

        Assert.False(probe.HasProbed);
        Assert.True(probe.Device.IsCuda);
        Assert.True(probe.Device.IsCuda);
        Assert.Equal(1, calls);
    }

    [Fact]
    public void Session_options_for_the_cpu_reproduce_the_reference()
    {
        using var options = new SessionOptions();
        Assert.Null(PrecisionProbeGraph.Check(ComputePrecision.Float32, PrecisionProbeGraph.Run(ComputePrecision.Float32, options)));
    }
}
