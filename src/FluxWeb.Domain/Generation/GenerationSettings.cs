using FluxWeb.Domain.Jobs;

namespace FluxWeb.Domain.Generation;

/// <summary>
/// What one image is made with. The Studio's form, the REST API and the CLI fill one; the queue
/// stores it on every <see cref="Job"/> (its columns, one per property); "use these settings" and the
/// gallery read it back; it is mapped to the engine's request in one place. A new generation
/// parameter is a property here, the engine's use of it, and the control that sets it (README,
/// "Adding a generation parameter").
/// </summary>
/// <remarks>
/// Input images are ids of the owner's stored images (uploads, masks, earlier outputs), never pixels.
/// Null sizes, steps and guidance mean "the default": the model's, or the first picture's size.
/// </remarks>
public sealed record GenerationSettings
{
    /// <summary>The model package id (<c>fluxweb models list</c>).</summary>
    public required string ModelId { get; init; }

    public required string Prompt { get; init; }

    /// <summary>
    /// What the picture should stay away from: the unconditional side of classifier-free guidance, so only models that
    /// take guidance use it (the engine refuses it for distilled ones). Empty: the model's own "" (the reference
    /// pipeline's default), so a job without one makes exactly the image it made before this setting existed.
    /// Trimmed, so a stray space from any door is no negative prompt (which a distilled model would refuse).
    /// </summary>
    public string NegativePrompt { get; init => field = value?.Trim() ?? ""; } = "";

    /// <summary>As asked (null: the first reference's or the source's size, else 1024); a multiple of 16 within <see cref="GenerationLimits"/>.</summary>
    public int? Width { get; init; }

    /// <inheritdoc cref="Width"/>
    public int? Height { get; init; }

    /// <summary>
    /// Null: a random seed, drawn at submission. A job always has one: a batch of N takes
    /// <c>Seed … Seed + N − 1</c> (<see cref="ForBatchImage"/>), so the same settings make the same image.
    /// </summary>
    public ulong? Seed { get; init; }

    /// <summary>Sampling steps; null: the model's default (distilled models run exactly 4).</summary>
    public int? Steps { get; init; }

    /// <summary>Classifier-free guidance for base models; null: the model's default. Distilled models take none.</summary>
    public float? Guidance { get; init; }

    /// <summary>Pictures the model looks at, in order (an edit with one, a multi-reference generation with more).</summary>
    public IReadOnlyList<Guid> ReferenceImageIds { get; init; } = [];

    /// <summary>A masked edit's picture (with <see cref="MaskImageId"/>); it counts as one of the input pictures.</summary>
    public Guid? SourceImageId { get; init; }

    /// <summary>A masked edit's mask: white repaints, black keeps; same size as the source.</summary>
    public Guid? MaskImageId { get; init; }

    /// <summary>Masked edit: how much of the painted area is repainted, in (0, 1]; 1 repaints it from pure noise.</summary>
    public float Strength { get; init; } = 1f;

    /// <summary>Masked edit: blend the result over the source with a feathered mask.</summary>
    public bool Feather { get; init; }

    /// <summary>What kind of generation these settings ask for (it follows from the inputs).</summary>
    public JobMode Mode => SourceImageId is not null ? JobMode.MaskedEdit
        : ReferenceImageIds.Count switch { 0 => JobMode.TextToImage, 1 => JobMode.Edit, _ => JobMode.MultiReference };

    /// <summary>Every input picture, references first, then the source and the mask.</summary>
    public IEnumerable<Guid> InputImageIds => ReferenceImageIds
        .Concat(SourceImageId is { } source ? [source] : [])
        .Concat(MaskImageId is { } mask ? [mask] : []);

    /// <summary>The settings of image <paramref name="index"/> of a batch: the batch's seed plus the index (wrapping at 2⁶⁴).</summary>
    public GenerationSettings ForBatchImage(ulong batchSeed, int index) => this with { Seed = unchecked(batchSeed + (ulong)index) };

    // Value equality, also for the references (a record compares lists by reference): an edited
    // Studio form is one whose settings differ from the ones it was filled with.
    public bool Equals(GenerationSettings? other) =>
        other is not null
        && string.Equals(ModelId, other.ModelId, StringComparison.Ordinal)
        && string.Equals(Prompt, other.Prompt, StringComparison.Ordinal)
        && string.Equals(NegativePrompt, other.NegativePrompt, StringComparison.Ordinal)
        && Width == other.Width
        && Height == other.Height
        && Seed == other.Seed
        && Steps == other.Steps
        && Nullable.Equals(Guidance, other.Guidance)
        && ReferenceImageIds.SequenceEqual(other.ReferenceImageIds)
        && SourceImageId == other.SourceImageId
        && MaskImageId == other.MaskImageId
        && Strength.Equals(other.Strength)
        && Feather == other.Feather;

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(ModelId, StringComparer.Ordinal);
        hash.Add(Prompt, StringComparer.Ordinal);
        hash.Add(NegativePrompt, StringComparer.Ordinal);
        hash.Add(Width);
        hash.Add(Height);
        hash.Add(Seed);
        hash.Add(Steps);
        hash.Add(Guidance);
        foreach (var id in ReferenceImageIds)
        {
            hash.Add(id);
        }

        hash.Add(SourceImageId);
        hash.Add(MaskImageId);
        hash.Add(Strength);
        hash.Add(Feather);
        return hash.ToHashCode();
    }
}
