using System.Text.Json;
using System.Text.Json.Serialization;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// The Studio's form as the browser keeps it between visits (local storage, one entry per user):
/// plain values and image ids only. What comes back is input like any other: the session checks the
/// model and every picture again (the licence door) before the form takes them.
/// A masked edit's source is not kept: its mask lives in the page and would be lost anyway.
/// </summary>
public sealed record SavedStudioForm
{
    public const int CurrentVersion = 1;

    /// <summary>The longest entry read back; anything longer is not a form this app wrote.</summary>
    public const int MaxJsonLength = 64 * 1024;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
    };

    public int Version { get; init; } = CurrentVersion;

    public string Prompt { get; init; } = "";

    public string NegativePrompt { get; init; } = "";

    public string? ModelId { get; init; }

    public int? Width { get; init; }

    public int? Height { get; init; }

    public bool SizeFromReference { get; init; }

    public SeedMode SeedMode { get; init; }

    public string SeedText { get; init; } = "";

    public int? Count { get; init; }

    public int? Steps { get; init; }

    public float? Guidance { get; init; }

    public IReadOnlyList<Guid> References { get; init; } = [];

    public static SavedStudioForm From(StudioForm form) => new()
    {
        Prompt = form.Prompt,
        NegativePrompt = form.NegativePrompt,
        ModelId = form.ModelId,
        Width = form.Width,
        Height = form.Height,
        SizeFromReference = form.SizeFromReference,
        SeedMode = form.SeedMode,
        SeedText = form.SeedText,
        Count = form.Count,
        Steps = form.Steps,
        Guidance = form.Guidance,
        References = [.. form.References.Select(r => r.Id)],
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The saved form, or null for nothing, another version, or anything that is not one (a damaged entry starts the form afresh).</summary>
    public static SavedStudioForm? Parse(string? json)
    {
        if (string.IsNullOrWhiteSpace(json) || json.Length > MaxJsonLength)
        {
            return null;
        }

        try
        {
            var saved = JsonSerializer.Deserialize<SavedStudioForm>(json, Json);
            return saved is { Version: CurrentVersion } && Enum.IsDefined(saved.SeedMode) ? saved with { Prompt = saved.Prompt ?? "", NegativePrompt = saved.NegativePrompt ?? "", SeedText = saved.SeedText ?? "", References = saved.References ?? [] } : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
