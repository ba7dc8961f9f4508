namespace FluxWeb.Inference.Transformer;

/// <summary>The FLUX.2 [klein] MMDiT hyper-parameters (no biases, no guidance embedder, SwiGLU MLP).</summary>
public sealed record Flux2TransformerConfig(
    string Name,
    int Hidden,
    int Heads,
    int DoubleBlocks,
    int SingleBlocks,
    int ContextDim,
    int[] AxesDim,
    int InChannels = 128,
    float Theta = 2000f,
    float MlpRatio = 3f,
    int TimestepDim = 256)
{
    public const float NormEpsilon = 1e-6f;

    public int HeadDim => Hidden / Heads;

    public int MlpHidden => (int)(Hidden * MlpRatio);

    public static Flux2TransformerConfig Klein4B { get; } = new("klein-4b", 3072, 24, 5, 20, 7680, [32, 32, 32, 32]);

    public static Flux2TransformerConfig Klein9B { get; } = new("klein-9b", 4096, 32, 8, 24, 12288, [32, 32, 32, 32]);

    /// <summary>The shape of the reference oracle in tests/fixtures/flux2-tiny.</summary>
    public static Flux2TransformerConfig FixtureTiny { get; } = new("fixture-tiny", 64, 2, 2, 2, 48, [8, 8, 8, 8]);

    /// <summary>The demo package: klein's structure at a size that runs on any CPU in milliseconds.</summary>
    public static Flux2TransformerConfig DemoTiny(int contextDim) => new("demo-tiny", 64, 2, 2, 2, contextDim, [8, 8, 8, 8]);

    public void Validate()
    {
        if (Hidden % Heads != 0 || AxesDim.Sum() != HeadDim || AxesDim.Any(a => a % 2 != 0))
        {
            throw new ArgumentException($"Transformer config {Name}: hidden {Hidden} / heads {Heads} must give a head dimension equal to the sum of the even RoPE axes [{string.Join(",", AxesDim)}].");
        }
    }
}
