using Microsoft.ML.OnnxRuntime;

namespace FluxWeb.Inference.Engine;

/// <summary>Turns ONNX Runtime's errors into messages a user can act on.</summary>
internal static class EngineFailures
{
    private static readonly string[] OutOfMemorySigns = ["Failed to allocate memory", "bfc_arena", "out of memory", "CUDNN_STATUS_ALLOC_FAILED", "CUBLAS_STATUS_ALLOC_FAILED", "std::bad_alloc"];

    public static bool IsOutOfMemory(Exception ex) => OutOfMemorySigns.Any(s => ex.Message.Contains(s, StringComparison.OrdinalIgnoreCase));

    public static InferenceFailedException FromLoad(OnnxRuntimeException ex, string packageId, ModelComponent component) => IsOutOfMemory(ex)
        ? new InferenceFailedException(InferenceFailure.OutOfMemory, $"Not enough memory to load the {Describe(component)} of '{packageId}'. Free memory (fewer models resident, a smaller budget elsewhere) or use a lower-precision package.", ex)
        : new InferenceFailedException(InferenceFailure.ModelUnavailable, $"The {Describe(component)} of '{packageId}' could not be loaded: {FirstLine(ex.Message)} Run `fluxweb models verify {packageId}`.", ex);

    public static InferenceFailedException FromRun(OnnxRuntimeException ex, string packageId, ModelComponent component, int width, int height) => IsOutOfMemory(ex)
        ? new InferenceFailedException(InferenceFailure.OutOfMemory, $"Ran out of memory in the {Describe(component)} at {width}×{height}. Try a smaller size or fewer reference images; the engine has been reset and the queue goes on.", ex)
        : new InferenceFailedException(InferenceFailure.SessionBroken, $"The {Describe(component)} of '{packageId}' failed: {FirstLine(ex.Message)} The engine has been reset and the queue goes on.", ex);

    public static string Describe(ModelComponent component) => component switch
    {
        ModelComponent.TextEncoder => "text encoder",
        ModelComponent.VaeEncoder => "VAE encoder",
        ModelComponent.VaeDecoder => "VAE decoder",
        _ => "transformer",
    };

    private static string FirstLine(string message)
    {
        var line = message.Split('\n', 2)[0].Trim();
        return line.EndsWith('.') ? line : line + ".";
    }
}
