using FluxWeb.Domain.Generation;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Inference.Pipeline;

/// <summary>
/// One image to generate. Every mode goes through the same fields: text-to-image (no images),
/// editing and multi-reference (<see cref="References"/>), masked editing (<see cref="Source"/> +
/// <see cref="Mask"/>, the source becoming reference #1). Images are already safely decoded.
/// </summary>
public sealed record GenerationRequest
{
    public required string ModelId { get; init; }

    public required string Prompt { get; init; }

    /// <summary>The unconditional side of classifier-free guidance; "" (the reference pipeline's) unless asked. Distilled variants refuse one.</summary>
    public string NegativePrompt { get; init; } = "";

    /// <summary>Null: the first reference's processed size (or the source's), else 1024.</summary>
    public int? Width { get; init; }

    public int? Height { get; init; }

    public ulong Seed { get; init; }

    /// <summary>Null: the model's default.</summary>
    public int? Steps { get; init; }

    /// <summary>Classifier-free guidance for base variants; null: the model's default. Distilled variants refuse a value.</summary>
    public float? Guidance { get; init; }

    public IReadOnlyList<Image<Rgb24>> References { get; init; } = [];

    public Image<Rgb24>? Source { get; init; }

    /// <summary>White repaints, black keeps; same size as <see cref="Source"/>.</summary>
    public Image<L8>? Mask { get; init; }

    /// <summary>Masked editing: 1 repaints from pure noise, lower keeps more of the source.</summary>
    public float Strength { get; init; } = 1f;

    /// <summary>Masked editing: blend the result over the source with a feathered mask in pixel space.</summary>
    public bool FeatherComposite { get; init; }

    /// <summary>
    /// The one mapping from what was asked (<see cref="GenerationSettings"/>: the job's, the CLI's) to
    /// what the engine runs; the input pictures are the settings' images, decoded by the caller.
    /// </summary>
    /// <exception cref="ArgumentException">The settings carry no seed (the caller draws one first).</exception>
    public static GenerationRequest For(GenerationSettings settings, IReadOnlyList<Image<Rgb24>> references, Image<Rgb24>? source, Image<L8>? mask) => new()
    {
        ModelId = settings.ModelId,
        Prompt = settings.Prompt,
        NegativePrompt = settings.NegativePrompt,
        Width = settings.Width,
        Height = settings.Height,
        Seed = settings.Seed ?? throw new ArgumentException("The settings have no seed yet.", nameof(settings)),
        Steps = settings.Steps,
        Guidance = settings.Guidance,
        References = references,
        Source = source,
        Mask = mask,
        Strength = settings.Strength,
        FeatherComposite = settings.Feather,
    };

    public GenerationMode Mode => Source is not null ? GenerationMode.MaskedEdit
        : References.Count switch { 0 => GenerationMode.TextToImage, 1 => GenerationMode.Edit, _ => GenerationMode.MultiReference };
}

public enum GenerationMode
{
    TextToImage,
    Edit,
    MultiReference,
    MaskedEdit,
}

/// <summary>A request whose sizes, steps and guidance have been checked and resolved against the model and the limits.</summary>
public sealed record ResolvedGeneration(int Width, int Height, int Steps, float? Guidance, int ImageTokens);

public enum GenerationStage
{
    LoadingModel,
    EncodingPrompt,
    EncodingImages,
    Denoising,
    Decoding,
    Finished,
}

/// <summary>A small RGB preview (row-major, 3 bytes a pixel): a cheap latent projection, not a VAE decode.</summary>
public sealed record PreviewImage(int Width, int Height, byte[] Rgb);

public sealed record GenerationProgress(GenerationStage Stage, int Step, int TotalSteps, TimeSpan Elapsed, PreviewImage? Preview = null);

/// <summary>The generated image and what produced it; <see cref="ModelTime"/> is time spent inside ONNX Runtime.</summary>
public sealed record GenerationResult(
    Image<Rgb24> Image,
    string ModelId,
    ulong Seed,
    int Width,
    int Height,
    int Steps,
    float? Guidance,
    TimeSpan Elapsed,
    TimeSpan ModelTime,
    bool PromptTruncated);

/// <summary>The user-facing reason a request cannot run, e.g. "Steps must be 4 for FLUX.2 [klein] 4B (distilled)".</summary>
public sealed class GenerationRequestException(string message) : Exception(message);

/// <summary>The inference singleton, as the rest of the application sees it.</summary>
public interface IImageGenerator
{
    /// <summary>Checks a request against the model and limits without touching the GPU; throws <see cref="GenerationRequestException"/>.</summary>
    ResolvedGeneration Validate(GenerationRequest request);

    /// <summary>Runs one request; progress is reported per step; cancellation stops it even inside a transformer run.</summary>
    Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken);
}
