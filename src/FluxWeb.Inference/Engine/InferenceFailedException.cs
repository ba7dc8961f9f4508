namespace FluxWeb.Inference.Engine;

public enum InferenceFailure
{
    OutOfMemory,
    SessionBroken,
    InvalidInput,
    ModelUnavailable,
}

/// <summary>A job that could not run, with a message a user can read; the engine stays usable.</summary>
public sealed class InferenceFailedException(InferenceFailure kind, string message, Exception? inner = null) : Exception(message, inner)
{
    public InferenceFailure Kind { get; } = kind;
}
