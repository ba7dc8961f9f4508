using FluxWeb.Domain.Generation;
using FluxWeb.Inference.Devices;

namespace FluxWeb.Inference;

public sealed class InferenceOptions
{
    public const string SectionName = "Inference";

    public DevicePreference Device { get; set; } = DevicePreference.Auto;

    public int CudaDeviceId { get; set; }

    /// <summary>Device memory the engine may fill with model weights (GPU); sessions beyond it are unloaded least-recently-used first.</summary>
    public double VramBudgetGiB { get; set; } = 20;

    /// <summary>The same budget when running on the CPU (system memory).</summary>
    public double RamBudgetGiB { get; set; } = 32;

    /// <summary>Largest output side in pixels (floored to a multiple of 16).</summary>
    public int MaxSide { get; set; } = 2048;

    /// <summary>Smallest output side in pixels.</summary>
    public int MinSide { get; set; } = 256;

    /// <summary>Largest output in pixels (width × height).</summary>
    public long MaxPixels { get; set; } = 2048L * 2048;

    public int MaxReferences { get; set; } = 4;

    /// <summary>References are scaled down (area-preserving, Lanczos) to at most this many pixels each.</summary>
    public long MaxReferencePixels { get; set; } = 1024L * 1024;

    /// <summary>Prompt embeddings kept in memory, keyed by (text encoder, prompt).</summary>
    public int EmbeddingCacheEntries { get; set; } = 64;

    /// <summary>Threads per ONNX Runtime session on the CPU; 0 lets ONNX Runtime decide.</summary>
    public int CpuThreads { get; set; }

    /// <summary>Side of the square step preview image (latent → RGB projection, not a VAE decode).</summary>
    public int PreviewSide { get; set; } = 256;

    /// <summary>The generation limits these options set (sizes and pictures); the queue's options add the batch size.</summary>
    public GenerationLimits ToGenerationLimits() => new()
    {
        MinSide = MinSide,
        MaxSide = MaxSide,
        MaxPixels = MaxPixels,
        MaxReferences = MaxReferences,
        MaxReferencePixels = MaxReferencePixels,
    };

    public long BudgetBytes(bool cuda) => (long)((cuda ? VramBudgetGiB : RamBudgetGiB) * (1L << 30));
}
