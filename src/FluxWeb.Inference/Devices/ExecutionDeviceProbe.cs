using System.Text.RegularExpressions;
using FluxWeb.Inference.Onnx;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static FluxWeb.Inference.Onnx.OnnxProtoFactory;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Devices;

/// <summary>
/// Decides once per process whether CUDA really works. ONNX Runtime lists CUDA as available even
/// without a GPU (a compile-time list), so the only honest test is to run a tiny session that
/// contains a Conv: that loads the CUDA provider, cuBLAS and cuDNN.
/// </summary>
public sealed partial class ExecutionDeviceProbe(IOptions<InferenceOptions> options, ILogger<ExecutionDeviceProbe> logger)
{
    private readonly Lazy<ExecutionDevice> _device = new(() => Probe(options.Value, logger));

    public ExecutionDevice Device => _device.Value;

    private static ExecutionDevice Probe(InferenceOptions options, ILogger logger)
    {
        if (options.Device == DevicePreference.Cpu)
        {
            return Report(logger, new ExecutionDevice(ExecutionDeviceKind.Cpu, 0, "CPU selected in configuration (Inference:Device = Cpu)."));
        }

        try
        {
            // Name the missing library up front: ORT's own message only says "Failed to load shared library".
            if (FirstMissingCudaLibrary() is { } missing)
            {
                throw new DllNotFoundException(missing == "libcuda.so.1"
                    ? "no NVIDIA driver (libcuda.so.1 not found)"
                    : $"{missing} could not be loaded (install CUDA 13 and cuDNN 9, or use the Docker image)");
            }

            RunConvProbe(options.CudaDeviceId);
            return Report(logger, new ExecutionDevice(ExecutionDeviceKind.Cuda, options.CudaDeviceId, $"CUDA device {options.CudaDeviceId} passed the Conv probe."));
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException or InvalidOperationException)
        {
            var detail = ex is DllNotFoundException ? ex.Message : Summarise(ex.Message);
            var reason = $"CUDA unavailable: {detail.TrimEnd('.')}.";
            if (options.Device == DevicePreference.Cuda)
            {
                throw new InvalidOperationException($"Inference:Device is Cuda but {reason}", ex);
            }

            return Report(logger, new ExecutionDevice(ExecutionDeviceKind.Cpu, 0, reason + " Running on CPU."));
        }
    }

    /// <summary>The CUDA 13 libraries ONNX Runtime 1.31's CUDA provider links against (cuDNN loads at the first Conv).</summary>
    internal static readonly string[] CudaLibraries = ["libcuda.so.1", "libcudart.so.13", "libcublasLt.so.13", "libcublas.so.13", "libcurand.so.10", "libcudnn.so.9"];

    internal static string? FirstMissingCudaLibrary()
    {
        foreach (var library in CudaLibraries)
        {
            if (!System.Runtime.InteropServices.NativeLibrary.TryLoad(library, out var handle))
            {
                return library;
            }

            System.Runtime.InteropServices.NativeLibrary.Free(handle);
        }

        return null;
    }

    private static void RunConvProbe(int deviceId)
    {
        using var sessionOptions = new SessionOptions();
        sessionOptions.AppendExecutionProvider_CUDA(deviceId);
        // Without this ORT would quietly place the Conv on the CPU and the probe would lie.
        sessionOptions.AddSessionConfigEntry("session.disable_cpu_ep_fallback", "1");
        using var session = new InferenceSession(ConvProbeModel(), sessionOptions);
        var input = new DenseTensor<float>(Enumerable.Range(0, 16).Select(i => (float)i).ToArray(), [1, 1, 4, 4]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("x", input)]);
        var output = results[0].AsTensor<float>();
        // A 3×3 box filter over the 4×4 ramp: the top-left valid output is the sum of 0,1,2,4,5,6,8,9,10.
        if (Math.Abs(output[0, 0, 0, 0] - 45f) > 1e-3f)
        {
            throw new InvalidOperationException($"the Conv probe returned {output[0, 0, 0, 0]} instead of 45.");
        }
    }

    internal static byte[] ConvProbeModel()
    {
        var graph = new global::Onnx.GraphProto { Name = "conv_probe" };
        graph.Input.Add(TensorValue("x", DataType.Float, 1, 1, 4, 4));
        graph.Output.Add(TensorValue("y", DataType.Float, 1, 1, 2, 2));
        graph.Initializer.Add(FloatTensor("w", [1, 1, 3, 3], Enumerable.Repeat(1f, 9).ToArray()));
        graph.Node.Add(Node("Conv", ["x", "w"], ["y"]).WithAttribute("kernel_shape", 3L, 3L));
        return Model(graph, opset: 17).ToBytes();
    }

    private static string Summarise(string message)
    {
        var firstLine = message.Split('\n', 2)[0].Trim();
        var library = MissingLibrary().Match(message);
        return library.Success ? $"{library.Groups[1].Value} could not be loaded ({firstLine})" : firstLine;
    }

    private static ExecutionDevice Report(ILogger logger, ExecutionDevice device)
    {
        LogDevice(logger, device.Kind, device.Reason);
        return device;
    }

    [GeneratedRegex(@"(lib[\w.+-]+\.so(?:\.\d+)*)")]
    private static partial Regex MissingLibrary();

    [LoggerMessage(Level = LogLevel.Information, Message = "Inference device: {Kind}. {Reason}")]
    private static partial void LogDevice(ILogger logger, ExecutionDeviceKind kind, string reason);
}
