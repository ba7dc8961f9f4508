using System.Globalization;

namespace FluxWeb.Domain.Generation;

/// <summary>A size checked against the limits: what refuses each side and the area, if anything.</summary>
public sealed record SizeCheck(string? WidthProblem, string? HeightProblem, string? AreaProblem)
{
    /// <summary>The first problem, if any: width, then height, then the area.</summary>
    public string? Problem => WidthProblem ?? HeightProblem ?? AreaProblem;

    public bool Fits => Problem is null;
}

/// <summary>
/// The server's limits on a generation, one set for every door and the engine: the Studio shows and
/// checks them, the queue and the engine enforce them. Built from <c>Inference</c> (sizes, pictures)
/// and <c>Queue</c> (batch) options. Sizes follow one rule everywhere (<see cref="CheckSize"/>): a
/// side must lie between <see cref="SmallestSide"/> and <see cref="LargestSide"/> and be a multiple
/// of 16 (a side that is not is refused with the nearest valid values, never changed silently), and
/// the area must not exceed <see cref="MaxPixels"/>.
/// </summary>
public sealed record GenerationLimits
{
    /// <summary>Sides are multiples of this (the VAE downsamples by 8, the transformer packs 2×2 latents).</summary>
    public const int SizeStep = 16;

    /// <summary>The size of a text-to-image generation that names none.</summary>
    public const int DefaultSide = 1024;

    /// <summary>Far beyond what the text encoder reads (512 tokens); only keeps absurd prompts out of the database.</summary>
    public const int MaxPromptCharacters = 10_000;

    /// <summary>Smallest output side in pixels, as configured (<c>Inference:MinSide</c>).</summary>
    public int MinSide { get; init; } = 256;

    /// <summary>Largest output side in pixels, as configured (<c>Inference:MaxSide</c>).</summary>
    public int MaxSide { get; init; } = 2048;

    /// <summary>Largest output in pixels, width × height (<c>Inference:MaxPixels</c>).</summary>
    public long MaxPixels { get; init; } = 2048L * 2048;

    /// <summary>Input pictures per generation; a masked edit's source counts as one (<c>Inference:MaxReferences</c>).</summary>
    public int MaxReferences { get; init; } = 4;

    /// <summary>References are scaled down to at most this many pixels each (<c>Inference:MaxReferencePixels</c>).</summary>
    public long MaxReferencePixels { get; init; } = 1024L * 1024;

    /// <summary>Images one request may ask for; each becomes its own job (<c>Queue:MaxBatchSize</c>).</summary>
    public int MaxBatch { get; init; } = 8;

    /// <summary>The smallest side a size can have: <see cref="MinSide"/> rounded up to the size step (at least one step).</summary>
    public int SmallestSide => Math.Max(SizeStep, (MinSide + SizeStep - 1) / SizeStep * SizeStep);

    /// <summary>The largest side a size can have: <see cref="MaxSide"/> rounded down to the size step.</summary>
    public int LargestSide => MaxSide / SizeStep * SizeStep;

    /// <summary>What the Studio says under its size fields.</summary>
    public string SizeHint => string.Create(CultureInfo.InvariantCulture, $"{SmallestSide}–{LargestSide} px a side, multiples of 16, at most {MaxPixels / 1e6:0.#} megapixels");

    /// <summary>The one rule for sizes, for the Studio, the API, the CLI and the engine alike.</summary>
    public SizeCheck CheckSize(int width, int height)
    {
        var widthProblem = SideProblem("Width", width);
        var heightProblem = SideProblem("Height", height);
        var areaProblem = widthProblem is null && heightProblem is null && (long)width * height > MaxPixels
            ? string.Create(CultureInfo.InvariantCulture, $"{width}×{height} is {(long)width * height:N0} pixels; at most {MaxPixels:N0} are allowed.")
            : null;
        return new SizeCheck(widthProblem, heightProblem, areaProblem);
    }

    /// <summary>Why one side is refused, naming what would be accepted; null when it fits.</summary>
    public string? SideProblem(string label, int side)
    {
        if (side < SmallestSide || side > LargestSide)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{label} must be between {SmallestSide} and {LargestSide} pixels; {side} was asked.");
        }

        if (side % SizeStep == 0)
        {
            return null;
        }

        // Both neighbours lie within the limits: the smallest and largest sides are multiples of 16 themselves.
        var below = side / SizeStep * SizeStep;
        var above = below + SizeStep;
        return string.Create(CultureInfo.InvariantCulture, $"{label} must be a multiple of 16: {side} is not; use {below} or {above}.");
    }

    public bool Fits(int width, int height) => CheckSize(width, height).Fits;

    /// <summary>Why a prompt is refused before anything else looks at it; null when its length is fine.</summary>
    public static string? PromptProblem(string prompt) => TextTooLong("prompt", prompt);

    /// <summary>Why a negative prompt is refused before anything else looks at it; null when its length is fine.</summary>
    public static string? NegativePromptProblem(string negativePrompt) => TextTooLong("negative prompt", negativePrompt);

    // One limit for both texts the text encoder reads.
    private static string? TextTooLong(string what, string text) => text.Length > MaxPromptCharacters
        ? string.Create(CultureInfo.InvariantCulture, $"The {what} is too long: it has {text.Length:N0} characters; at most {MaxPromptCharacters:N0} are accepted.")
        : null;

    /// <summary>Why a batch size is refused; null when it is within 1 … <see cref="MaxBatch"/>.</summary>
    public string? BatchProblem(int count) => count < 1 || count > MaxBatch
        ? string.Create(CultureInfo.InvariantCulture, $"Ask for between 1 and {MaxBatch} images at a time.")
        : null;

    /// <summary>Why a masked edit's strength is refused; null when it is above 0 and at most 1.</summary>
    public static string? StrengthProblem(float strength) => strength is <= 0f or > 1f || float.IsNaN(strength)
        ? string.Create(CultureInfo.InvariantCulture, $"Strength must be above 0 and at most 1; {strength} was asked.")
        : null;
}
