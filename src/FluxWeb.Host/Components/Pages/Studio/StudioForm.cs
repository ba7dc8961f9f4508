using System.Globalization;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Models;
using FluxWeb.Domain.Generation;

namespace FluxWeb.Host.Components.Pages.Studio;

public enum SeedMode
{
    /// <summary>A new random seed for every request.</summary>
    Random,

    /// <summary>The seed typed in (or taken from a result) every time.</summary>
    Locked,

    /// <summary>The seed of the latest finished image.</summary>
    ReuseLast,
}

public sealed record SizePreset(string Label, int Width, int Height)
{
    /// <summary>Common klein sizes (all multiples of 16, about one megapixel), then smaller ones for quick drafts.</summary>
    private static readonly SizePreset[] Candidates =
    [
        new("Square", 1024, 1024),
        new("Landscape 4:3", 1152, 864),
        new("Portrait 3:4", 864, 1152),
        new("Photo 3:2", 1216, 832),
        new("Photo 2:3", 832, 1216),
        new("Wide 16:9", 1344, 768),
        new("Tall 9:16", 768, 1344),
        new("Draft square", 512, 512),
        new("Thumbnail", 256, 256),
    ];

    public string Text => string.Create(CultureInfo.InvariantCulture, $"{Label} · {Width}×{Height}");

    public static IReadOnlyList<SizePreset> Within(GenerationLimits limits) => [.. Candidates.Where(p => limits.Fits(p.Width, p.Height))];
}

/// <summary>The form's names for its fields, used as keys of validation messages.</summary>
public static class StudioField
{
    public const string Prompt = nameof(Prompt);
    public const string NegativePrompt = nameof(NegativePrompt);
    public const string Model = nameof(Model);
    public const string Width = nameof(Width);
    public const string Height = nameof(Height);
    public const string Seed = nameof(Seed);
    public const string Count = nameof(Count);
    public const string Steps = nameof(Steps);
    public const string Guidance = nameof(Guidance);
    public const string References = nameof(References);
    public const string Mask = nameof(Mask);
    public const string Strength = nameof(Strength);
}

/// <summary>Everything the form holds, comparable: an edited form is one whose snapshot differs from the last one loaded.</summary>
public sealed record StudioFormSnapshot(
    string Prompt,
    string NegativePrompt,
    string? ModelId,
    int? Width,
    int? Height,
    bool SizeFromReference,
    SeedMode SeedMode,
    string SeedText,
    int? Count,
    int? Steps,
    float? Guidance,
    string References,
    Guid? Source,
    float Strength,
    bool Feather,
    bool MaskPainted);

/// <summary>
/// The Studio's form: what a designer asks for, checked against the chosen model and the server's
/// limits with messages that say what to do. Plain C#, so it can live in the circuit's
/// <see cref="StudioDraft"/> while the person visits other pages.
/// </summary>
public sealed class StudioForm
{
    public const float MinStrength = 0.05f;
    public const int DefaultSide = GenerationLimits.DefaultSide;

    public string Prompt { get; set; } = "";

    /// <summary>
    /// Kept while a distilled model is chosen (switching back finds it again) but sent only with a model that takes
    /// guidance: it is the unconditional side of that guidance, and a distilled model refuses one.
    /// </summary>
    public string NegativePrompt { get; set; } = "";

    public string? ModelId { get; set; }

    public int? Width { get; set; } = DefaultSide;

    public int? Height { get; set; } = DefaultSide;

    /// <summary>Let the first reference decide the size (the engine scales it to its pixel budget).</summary>
    public bool SizeFromReference { get; set; }

    public SeedMode SeedMode { get; set; }

    public string SeedText { get; set; } = "";

    public int? Count { get; set; } = 1;

    public int? Steps { get; set; }

    public float? Guidance { get; set; }

    public List<StudioImage> References { get; } = [];

    /// <summary>The picture of a masked edit; null for text-to-image and reference edits.</summary>
    public StudioImage? Source { get; set; }

    public float Strength { get; set; } = 1f;

    public bool Feather { get; set; } = true;

    /// <summary>Whether the mask editor reports paint (kept here so the form knows a masked edit is ready).</summary>
    public bool MaskPainted { get; set; }

    /// <summary>
    /// The saved mask the editor starts from ("use these settings" on a masked edit or a vary); null: an empty mask.
    /// Only a mask the caller checked is usable as input goes here.
    /// </summary>
    public Guid? RestoredMaskId { get; private set; }

    /// <summary>
    /// References that were in the form when a masked edit began: a masked edit does not use them unless the
    /// person keeps them (<see cref="KeepSetAsideReferences"/>); they come back when the edit stops.
    /// </summary>
    public List<StudioImage> SetAsideReferences { get; } = [];

    /// <summary>"Auto-add new results to this board" (<see cref="BoardAutoAddPicker"/>); null: none. The server checks it at submission and at completion.</summary>
    public Guid? AutoAddBoardId { get; set; }

    public bool UsesReferenceSize => SizeFromReference && Source is null && References.Count > 0;

    /// <summary>References that still fit: the limit counts a masked edit's source as one.</summary>
    public int FreeReferenceSlots(GenerationLimits limits) => Math.Max(0, limits.MaxReferences - References.Count - (Source is null ? 0 : 1));

    public static bool StepsAdjustable(ModelChoice model) => model.StepsAdjustable;

    public static bool GuidanceAdjustable(ModelChoice model) => model.GuidanceAdjustable;

    /// <summary>Whether <paramref name="model"/> uses a negative prompt: those that take guidance.</summary>
    public static bool NegativePromptUsable(ModelChoice model) => model.GuidanceAdjustable;

    /// <summary>Selects a model; steps and guidance go back to that model's defaults (or away, for distilled models).</summary>
    public void ChooseModel(ModelChoice model)
    {
        if (string.Equals(ModelId, model.Id, StringComparison.Ordinal))
        {
            return;
        }

        ModelId = model.Id;
        Steps = StepsAdjustable(model) ? model.Sampling.DefaultSteps : null;
        Guidance = GuidanceAdjustable(model) ? model.Sampling.DefaultGuidance : null;
    }

    public void ChooseSize(SizePreset preset)
    {
        (Width, Height) = (preset.Width, preset.Height);
        SizeFromReference = false;
    }

    /// <summary>Moves a reference by <paramref name="offset"/> places; false when it cannot go further.</summary>
    public bool MoveReference(int index, int offset)
    {
        var target = index + offset;
        if (index < 0 || index >= References.Count || target < 0 || target >= References.Count)
        {
            return false;
        }

        var moving = References[index];
        References.RemoveAt(index);
        References.Insert(target, moving);
        return true;
    }

    public void RemoveReference(int index)
    {
        if (index >= 0 && index < References.Count)
        {
            References.RemoveAt(index);
        }

        if (References.Count == 0)
        {
            SizeFromReference = false;
        }
    }

    /// <summary>
    /// Starts or stops a masked edit. Starting one sets the form's references aside (they rarely belong to the
    /// edit and would silently change it); stopping brings them back as far as they fit.
    /// </summary>
    public void SetSource(StudioImage? source, GenerationLimits? limits = null)
    {
        if (source is not null && Source is null && References.Count > 0)
        {
            SetAsideReferences.AddRange(References);
            References.Clear();
            SizeFromReference = false;
        }
        else if (source is null && SetAsideReferences.Count > 0)
        {
            var room = (limits?.MaxReferences ?? int.MaxValue) - References.Count;
            References.AddRange(SetAsideReferences.Where(r => References.All(kept => kept.Id != r.Id)).Take(Math.Max(0, room)));
            SetAsideReferences.Clear();
        }

        Source = source;
        MaskPainted = false;
        RestoredMaskId = null;
    }

    /// <summary>Puts the set-aside references back into the masked edit, as many as fit beside its source; how many did.</summary>
    public int KeepSetAsideReferences(GenerationLimits limits)
    {
        var kept = 0;
        while (SetAsideReferences.Count > 0 && FreeReferenceSlots(limits) > 0)
        {
            References.Add(SetAsideReferences[0]);
            SetAsideReferences.RemoveAt(0);
            kept++;
        }

        return kept;
    }

    /// <summary>Every problem with the form, by field; empty when it can be sent.</summary>
    public IReadOnlyDictionary<string, string> Validate(ModelChoice? model, GenerationLimits limits, ulong? lastSeed)
    {
        var errors = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(Prompt))
        {
            errors[StudioField.Prompt] = "Write a prompt first: describe the picture you want.";
        }
        else if (GenerationLimits.PromptProblem(Prompt) is { } tooLong)
        {
            errors[StudioField.Prompt] = tooLong;
        }

        if (model is not null && NegativePromptUsable(model) && GenerationLimits.NegativePromptProblem(NegativePrompt.Trim()) is { } negativeTooLong)
        {
            errors[StudioField.NegativePrompt] = negativeTooLong;
        }

        if (model is null)
        {
            errors[StudioField.Model] = "Choose a model.";
        }
        else if (!model.Allowed)
        {
            errors[StudioField.Model] = model.Reason ?? "This account may not use this model.";
        }

        if (Source is null && !UsesReferenceSize)
        {
            ValidateSize(errors, limits);
        }

        ValidateSeed(errors, lastSeed);

        if (limits.BatchProblem(Count ?? 0) is { } batchProblem)
        {
            errors[StudioField.Count] = batchProblem;
        }

        if (model is not null && StepsAdjustable(model) && (Steps is not { } steps || steps < model.Sampling.MinSteps || steps > model.Sampling.MaxSteps))
        {
            errors[StudioField.Steps] = string.Create(CultureInfo.InvariantCulture, $"Steps must be between {model.Sampling.MinSteps} and {model.Sampling.MaxSteps} for this model.");
        }

        if (model is not null && GuidanceAdjustable(model)
            && (Guidance is not { } guidance || float.IsNaN(guidance) || guidance < model.Sampling.MinGuidance || guidance > model.Sampling.MaxGuidance))
        {
            errors[StudioField.Guidance] = string.Create(CultureInfo.InvariantCulture, $"Guidance must be between {model.Sampling.MinGuidance:0.##} and {model.Sampling.MaxGuidance:0.##} for this model.");
        }

        var inputs = References.Count + (Source is null ? 0 : 1);
        if (inputs > limits.MaxReferences)
        {
            errors[StudioField.References] = string.Create(CultureInfo.InvariantCulture, $"At most {limits.MaxReferences} input pictures (a masked edit's source counts as one); remove {inputs - limits.MaxReferences}.");
        }

        if (Source is not null)
        {
            if (!MaskPainted)
            {
                errors[StudioField.Mask] = "Paint over the part of the picture that should change.";
            }

            if (GenerationLimits.StrengthProblem(Strength) is { } strengthProblem)
            {
                errors[StudioField.Strength] = strengthProblem;
            }
        }

        return errors;
    }

    // The engine's own rule (GenerationLimits.CheckSize), shown at the field it concerns.
    private void ValidateSize(Dictionary<string, string> errors, GenerationLimits limits)
    {
        foreach (var (field, label, value) in new[] { (StudioField.Width, "Width", Width), (StudioField.Height, "Height", Height) })
        {
            if (value is not { } side)
            {
                errors[field] = $"Enter a {label.ToLowerInvariant()} in pixels.";
            }
            else if (limits.SideProblem(label, side) is { } problem)
            {
                errors[field] = problem;
            }
        }

        if (!errors.ContainsKey(StudioField.Width) && !errors.ContainsKey(StudioField.Height) && limits.CheckSize(Width!.Value, Height!.Value).AreaProblem is { } area)
        {
            errors[StudioField.Height] = area;
        }
    }

    private void ValidateSeed(Dictionary<string, string> errors, ulong? lastSeed)
    {
        if (SeedMode == SeedMode.Locked && ParseSeed(SeedText) is null)
        {
            errors[StudioField.Seed] = "A seed is a whole number from 0 to 18446744073709551615.";
        }
        else if (SeedMode == SeedMode.ReuseLast && lastSeed is null)
        {
            errors[StudioField.Seed] = "There is no finished image yet whose seed could be reused.";
        }
    }

    public static ulong? ParseSeed(string? text) =>
        ulong.TryParse(text?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var seed) ? seed : null;

    /// <summary>The request for <see cref="GenerationService.SubmitAsync"/>; call after <see cref="Validate"/> found nothing.</summary>
    public JobRequest ToRequest(ModelChoice model, ulong? lastSeed, Guid? maskImageId) => new()
    {
        Settings = new GenerationSettings
        {
            ModelId = model.Id,
            Prompt = Prompt.Trim(),
            NegativePrompt = NegativePromptUsable(model) ? NegativePrompt : "",
            Width = Source is null && !UsesReferenceSize ? Width : null,
            Height = Source is null && !UsesReferenceSize ? Height : null,
            Seed = SeedMode switch
            {
                SeedMode.Locked => ParseSeed(SeedText),
                SeedMode.ReuseLast => lastSeed,
                _ => null,
            },
            Steps = StepsAdjustable(model) ? Steps : null,
            Guidance = GuidanceAdjustable(model) ? Guidance : null,
            ReferenceImageIds = [.. References.Select(r => r.Id)],
            SourceImageId = Source?.Id,
            MaskImageId = Source is null ? null : maskImageId,
            Strength = Source is null ? 1f : Strength,
            Feather = Source is not null && Feather,
        },
        Count = Count ?? 1,
        AutoAddBoardId = AutoAddBoardId,
        Channel = "ui",
    };

    /// <summary>
    /// Loads what an earlier image was made with. The references and source are only those still
    /// usable (the caller checked them); the seed is locked to that image's own.
    /// </summary>
    public void Apply(JobSettings made, ModelChoice? model, IReadOnlyList<StudioImage> references, StudioImage? source, Guid? restoredMaskId = null)
    {
        var settings = made.Settings;
        Prompt = settings.Prompt;
        NegativePrompt = settings.NegativePrompt;
        if (model is not null)
        {
            ModelId = model.Id;
            Steps = StepsAdjustable(model) ? settings.Steps : null;
            Guidance = GuidanceAdjustable(model) ? settings.Guidance ?? model.Sampling.DefaultGuidance : null;
        }

        (Width, Height) = (settings.Width, settings.Height);
        SizeFromReference = false;
        SeedMode = SeedMode.Locked;
        SeedText = settings.Seed?.ToString(CultureInfo.InvariantCulture) ?? "";
        // The image's own inputs, exactly: its references were part of what it was made with.
        SetAsideReferences.Clear();
        References.Clear();
        (Source, MaskPainted, RestoredMaskId) = (source, false, source is null ? null : restoredMaskId);
        References.AddRange(references);
        if (source is not null)
        {
            Strength = Math.Clamp(settings.Strength, MinStrength, 1f);
            Feather = settings.Feather;
        }
    }

    /// <summary>
    /// Takes what a preset made of the form (<see cref="FluxWeb.Application.Presets.PresetService.ApplyAsync"/>): the
    /// prompt, the negative prompt, the size, and the model with its steps and guidance when <paramref name="model"/> (checked usable by
    /// the caller) is given. Seed, count and pictures stay as they are.
    /// </summary>
    public void ApplyPreset(GenerationSettings applied, ModelChoice? model)
    {
        Prompt = applied.Prompt;
        NegativePrompt = applied.NegativePrompt;
        if (model is not null)
        {
            ModelId = model.Id;
            Steps = StepsAdjustable(model) ? applied.Steps ?? model.Sampling.DefaultSteps : null;
            Guidance = GuidanceAdjustable(model) ? applied.Guidance ?? model.Sampling.DefaultGuidance : null;
        }

        if (applied.Width != Width || applied.Height != Height)
        {
            (Width, Height) = (applied.Width, applied.Height);
            SizeFromReference = false;
        }
    }

    public StudioFormSnapshot Snapshot() => new(
        Prompt,
        NegativePrompt,
        ModelId,
        Width,
        Height,
        SizeFromReference,
        SeedMode,
        SeedText,
        Count,
        Steps,
        Guidance,
        string.Join(',', References.Select(r => r.Id)),
        Source?.Id,
        Strength,
        Feather,
        MaskPainted);
}
