using FluxWeb.Inference.Devices;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace FluxWeb.Inference.Engine;

/// <summary>Session options for the chosen device: CUDA with the memory settings that let one GPU serve long runs, or the CPU.</summary>
public sealed class SessionFactory(ExecutionDeviceProbe devices, IOptions<InferenceOptions> options)
{
    public ExecutionDevice Device => devices.Device;

    public InferenceSession Create(string modelPath, CancellationToken cancellationToken)
    {
        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        if (options.Value.CpuThreads > 0)
        {
            sessionOptions.IntraOpNumThreads = options.Value.CpuThreads;
        }

        if (Device.IsCuda)
        {
            using var cuda = new OrtCUDAProviderOptions();
            cuda.UpdateOptions(new Dictionary<string, string>
            {
                ["device_id"] = Device.CudaDeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                // Sizes vary per job: grow the arena by what is asked, not in doubling chunks.
                ["arena_extend_strategy"] = "kSameAsRequested",
                // Exhaustive search re-runs for every new image size; heuristics suit a studio.
                ["cudnn_conv_algo_search"] = "HEURISTIC",
            });
            sessionOptions.AppendExecutionProvider_CUDA(cuda);
            sessionOptions.AddSessionConfigEntry("session.use_device_allocator_for_initializers", "1");
        }

        using var registration = cancellationToken.Register(() => sessionOptions.SetLoadCancellationFlag(true));
        try
        {
            return new InferenceSession(modelPath, sessionOptions);
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }
}
