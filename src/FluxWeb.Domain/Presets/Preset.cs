using FluxWeb.Domain.Generation;

namespace FluxWeb.Domain.Presets;

/// <summary>
/// A saved style: a prompt template and the part of <see cref="GenerationSettings"/> a style carries
/// (negative prompt, model, size, steps, guidance; each optional, "leave the form's as it is" when absent). Kept per
/// account, or published by an administrator to everyone (<see cref="OwnerId"/> null). Applying one
/// is <see cref="ApplyTo"/>: the settings the form has, with what the preset names.
/// </summary>
/// <remarks>
/// Steps and guidance belong to the model they were chosen for (a distilled model runs 4 steps and
/// takes no guidance; a base model's range is its own), so a preset only carries them with its model.
/// </remarks>
public sealed class Preset
{
    public const string PromptPlaceholder = "{prompt}";

    public const int MaxNameLength = 60;

    public const int MaxTemplateLength = 2_000;

    public Guid Id { get; set; }

    /// <summary>The account it belongs to; null: published by an administrator to everyone on the server.</summary>
    public string? OwnerId { get; set; }

    public required string Name { get; set; }

    /// <summary><see cref="Name"/> as compared for uniqueness (per owner, and among published presets): trimmed, upper case.</summary>
    public required string NameKey { get; set; }

    /// <summary>
    /// The prompt it makes from the person's: <c>{prompt}</c> stands for theirs; a template without it is a
    /// style added after their prompt (<see cref="ExpandPrompt"/>); empty: the prompt stays as it is.
    /// </summary>
    public string PromptTemplate { get; set; } = "";

    /// <summary>
    /// What the style keeps out of the picture (<see cref="GenerationSettings.NegativePrompt"/>); empty: the form's
    /// stays. Like the template it goes with whatever model the form ends up with, as long as that model reads one.
    /// </summary>
    public string NegativePrompt { get; set; } = "";

    /// <inheritdoc cref="GenerationSettings.ModelId"/>
    public string? ModelId { get; set; }

    /// <inheritdoc cref="GenerationSettings.Width"/>
    public int? Width { get; set; }

    /// <inheritdoc cref="GenerationSettings.Height"/>
    public int? Height { get; set; }

    /// <inheritdoc cref="GenerationSettings.Steps"/>
    public int? Steps { get; set; }

    /// <inheritdoc cref="GenerationSettings.Guidance"/>
    public float? Guidance { get; set; }

    /// <summary>For a published preset: the administrator who published it.</summary>
    public string? PublishedById { get; set; }

    public DateTime CreatedUtc { get; set; }

    public DateTime UpdatedUtc { get; set; }

    public bool IsPublished => OwnerId is null;

    public static string KeyOf(string name) => name.Trim().ToUpperInvariant();

    /// <summary>
    /// <paramref name="current"/> with what this preset names: the prompt expanded from the template, the
    /// negative prompt, then the model (with its steps and guidance: the model's defaults when the preset has none) and
    /// the size. The caller checks each part first and passes only what may be applied.
    /// </summary>
    public static GenerationSettings ApplyTo(GenerationSettings current, string prompt, string negativePrompt, string? modelId, int? steps, float? guidance, (int Width, int Height)? size) =>
        current with
        {
            Prompt = prompt,
            NegativePrompt = negativePrompt,
            ModelId = modelId ?? current.ModelId,
            Steps = modelId is null ? current.Steps : steps,
            Guidance = modelId is null ? current.Guidance : guidance,
            Width = size?.Width ?? current.Width,
            Height = size?.Height ?? current.Height,
        };

    /// <summary>
    /// The prompt <paramref name="template"/> makes of <paramref name="prompt"/>. Every <c>{prompt}</c> becomes
    /// the person's prompt; a template without one is a style appended after it (", " between), never a
    /// replacement, so applying a style keeps what the person wrote. Applying the same template twice does not
    /// add it twice. With an empty prompt, the separators the template put around it go too.
    /// </summary>
    public static string ExpandPrompt(string? template, string? prompt)
    {
        var style = (template ?? "").Trim();
        var own = (prompt ?? "").Trim();
        if (style.Length == 0)
        {
            return own;
        }

        var at = style.IndexOf(PromptPlaceholder, StringComparison.Ordinal);
        if (at < 0)
        {
            return own.Length == 0 ? style
                : own.EndsWith(style, StringComparison.Ordinal) ? own
                : $"{own.TrimEnd(',', ' ')}, {style}";
        }

        var before = Tidy(style[..at]);
        var after = Tidy(style[(at + PromptPlaceholder.Length)..]);
        if (own.Length > 0 && before.Length + after.Length > 0 && !style[(at + PromptPlaceholder.Length)..].Contains(PromptPlaceholder, StringComparison.Ordinal)
            && own.StartsWith(before, StringComparison.Ordinal) && own.EndsWith(after, StringComparison.Ordinal) && own.Length > before.Length + after.Length)
        {
            // Already made from this template (applied before): wrapping it again would repeat the style.
            return own;
        }

        return Tidy(style.Replace(PromptPlaceholder, own, StringComparison.Ordinal));
    }

    // What is left at the edges when {prompt} stood for nothing (", oil painting") is no part of the picture.
    private static string Tidy(string text) => text.Trim().Trim(',', ';', ' ').Trim();
}
