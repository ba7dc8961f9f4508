using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Presets;

namespace FluxWeb.Application.Presets;

public enum PresetOutcome
{
    Done,

    /// <summary>No such preset, or one the caller may not see (another person's): the two look the same.</summary>
    NotFound,

    /// <summary>The request itself is wrong (an empty or taken name, a size off the limits); <see cref="PresetResult{T}.Error"/> says what.</summary>
    Invalid,

    /// <summary>The caller may see it but not change it (a published preset, for everyone but administrators).</summary>
    ReadOnly,
}

public sealed record PresetResult<T>(PresetOutcome Outcome, T? Value = default, string? Error = null)
{
    public bool Succeeded => Outcome == PresetOutcome.Done;
}

public static class PresetResult
{
    public static PresetResult<T> Done<T>(T value) => new(PresetOutcome.Done, value);

    public static PresetResult<T> NotFound<T>() => new(PresetOutcome.NotFound);

    public static PresetResult<T> Invalid<T>(string error) => new(PresetOutcome.Invalid, Error: error);

    public static PresetResult<T> ReadOnly<T>(string error) => new(PresetOutcome.ReadOnly, Error: error);
}

/// <summary>
/// What a preset is to hold, as the Studio's "Save current as preset…" dialog or the API sends it. Null
/// parameters are left out of the preset (the form keeps its own when it is applied). Steps and guidance only
/// come with a model; width and height together.
/// </summary>
public sealed record PresetDraft
{
    public string? Name { get; init; }

    public string? PromptTemplate { get; init; }

    public string? NegativePrompt { get; init; }

    public string? ModelId { get; init; }

    public int? Width { get; init; }

    public int? Height { get; init; }

    public int? Steps { get; init; }

    public float? Guidance { get; init; }

    public static PresetDraft Of(Preset preset) => new()
    {
        Name = preset.Name,
        PromptTemplate = preset.PromptTemplate,
        NegativePrompt = preset.NegativePrompt,
        ModelId = preset.ModelId,
        Width = preset.Width,
        Height = preset.Height,
        Steps = preset.Steps,
        Guidance = preset.Guidance,
    };
}

/// <summary>
/// A preset as one account sees it. <see cref="ModelProblem"/> says why its model would not be applied for this
/// account now (not installed any more, disabled, or not allowed by the account's licence); the rest still applies.
/// </summary>
public sealed record PresetView(
    Guid Id,
    string Name,
    string PromptTemplate,
    string NegativePrompt,
    string? ModelId,
    string? ModelLabel,
    int? Width,
    int? Height,
    int? Steps,
    float? Guidance,
    bool IsPublished,
    bool IsMine,
    string? ModelProblem,
    DateTime UpdatedUtc)
{
    /// <summary>What applying it changes, in a few words ("template · negative prompt · klein-4b · 1024×1024 · 8 steps").</summary>
    public string Summary => string.Join(" · ", new[]
    {
        PromptTemplate.Length == 0 ? null : PromptTemplate.Contains(Preset.PromptPlaceholder, StringComparison.Ordinal) ? "prompt template" : "style added to the prompt",
        NegativePrompt.Length == 0 ? null : "negative prompt",
        ModelId is null ? null : ModelLabel ?? ModelId,
        Width is { } w && Height is { } h ? System.FormattableString.Invariant($"{w}×{h}") : null,
        Steps is { } s ? System.FormattableString.Invariant($"{s} steps") : null,
        Guidance is { } g ? System.FormattableString.Invariant($"guidance {g:0.##}") : null,
    }.Where(p => p is not null));
}

/// <summary>
/// What applying a preset made of the settings it was given: <see cref="Settings"/> with each part that could be
/// applied, and, for each part that could not (a model no longer available, a size the server no longer allows,
/// a prompt that would be too long), a sentence in <see cref="LeftOut"/>.
/// </summary>
public sealed record PresetApplication(GenerationSettings Settings, IReadOnlyList<string> LeftOut, bool ModelApplied);
