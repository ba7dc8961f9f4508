using FluxWeb.Domain.Generation;
using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Engine;

namespace FluxWeb.Inference;

public sealed class InferenceOptions
{
    public const string SectionName = "Inference";

    public DevicePreference Device { get; set; } = DevicePreference.Auto;

    public int CudaDeviceId { get; set; }

    /// <summary>
    /// The devices this process serves, one queue worker and engine each: <c>cuda:0</c>, <c>cuda:1</c>, …,
    /// <c>all</c> (every CUDA device the driver reports) or <c>cpu</c>; a list, or one comma-separated value.
    /// Empty: the one device of <see cref="Device"/> and <see cref="CudaDeviceId"/>. Read through <see cref="DeviceSelection"/>.
    /// </summary>
    public List<string> Devices { get; set; } = [];

    /// <summary>How many workers run jobs side by side when the devices are the CPU (1…64); they share the cores and <see cref="RamBudgetGiB"/>.</summary>
    public int CpuWorkers { get; set; } = 1;

    /// <summary>
    /// Device memory the engine may fill with model weights and their activations (GPU); sessions beyond
    /// it are unloaded least-recently-used first. 0: the GPU's free memory at start less <see cref="VramReserveGiB"/>.
    /// </summary>
    public double VramBudgetGiB { get; set; }

    /// <summary>
    /// Caps each CUDA session's activation arena (ONNX Runtime's gpu_mem_limit; weights are outside it).
    /// 0: no cap. For sharing a GPU with other processes, and for bench/gpu's out-of-memory check.
    /// </summary>
    public double CudaArenaLimitGiB { get; set; }

    /// <summary>Left free on the GPU for the CUDA context, cuBLAS/cuDNN workspaces and fragmentation when the budget comes from free memory.</summary>
    public double VramReserveGiB { get; set; } = 1.5;

    /// <summary>The same budget when running on the CPU (system memory), shared evenly by the <see cref="CpuWorkers"/>.</summary>
    public double RamBudgetGiB { get; set; } = 32;

    /// <summary>
    /// After a job whose activations are unusually large (over 1.5× the median of recent jobs, or a
    /// quarter of the budget), ONNX Runtime's arenas give back what they grew for it.
    /// </summary>
    public bool ShrinkArenasAfterLargeJobs { get; set; } = true;

    /// <summary>
    /// What the web app loads in the background at start: <c>MostUsed</c> (on a GPU: the package
    /// with the most images), <c>None</c>, or a package id (also on the CPU).
    /// </summary>
    public string? WarmStart { get; set; } = Engine.WarmStart.MostUsed;

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

    /// <summary>
    /// Threads per ONNX Runtime session on the CPU; 0 lets ONNX Runtime decide (one per core). With several
    /// <see cref="CpuWorkers"/> this (or the core count) is shared among them: see <see cref="SessionFactory"/>.
    /// </summary>
    public int CpuThreads { get; set; }

    /// <summary>
    /// Capture the transformer's CUDA work once per image shape and replay it as a CUDA graph (ONNX
    /// Runtime's enable_cuda_graph): fewer kernel launches per step, at the price of fixed buffers
    /// per shape and a capture on the first job of each shape. Off by default; bench/gpu measures it.
    /// </summary>
    public bool CudaGraphs { get; set; }

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
}
