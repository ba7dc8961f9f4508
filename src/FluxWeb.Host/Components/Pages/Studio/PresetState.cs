using FluxWeb.Application.Jobs;
using FluxWeb.Application.Presets;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// The Studio's presets for one circuit (a scoped service): the list this account sees (its own, then the
/// published ones), the one picked, and the calls that change them. Applying one changes the form, so it is
/// <see cref="StudioSession.ApplyPresetAsync"/>'s. Every call goes through <see cref="PresetService"/>, which
/// decides who may do what; this only remembers the answer.
/// </summary>
public sealed class PresetState(PresetService presets)
{
    private JobActor? actor;

    /// <summary>The account's presets and the published ones; null until loaded.</summary>
    public IReadOnlyList<PresetView>? Presets { get; private set; }

    public IEnumerable<PresetView> Mine => Presets?.Where(p => !p.IsPublished) ?? [];

    public IEnumerable<PresetView> Published => Presets?.Where(p => p.IsPublished) ?? [];

    public Guid? SelectedId { get; private set; }

    public PresetView? Selected => Presets?.FirstOrDefault(p => p.Id == SelectedId);

    /// <summary>Whether the picked preset is one this person may rename and delete: their own, or a published one for an administrator.</summary>
    public bool MayManageSelected => Selected is { } selected && (selected.IsMine || (selected.IsPublished && actor?.IsAdmin == true));

    public bool MayPublishSelected => actor?.IsAdmin == true && Selected is { IsMine: true };

    public bool IsAdmin => actor?.IsAdmin == true;

    public async Task LoadAsync(JobActor? who)
    {
        actor = who;
        Presets = who is null ? [] : await presets.ListAsync(who);
        if (Selected is null)
        {
            SelectedId = null;
        }
    }

    public void Select(Guid? id) => SelectedId = id;

    public string NameOf(Guid? id) => Presets?.FirstOrDefault(p => p.Id == id)?.Name ?? "";

    /// <summary>Saves a new preset of the person's own and picks it; the refusal's words, or null when saved.</summary>
    public Task<string?> CreateAsync(PresetDraft draft) => ChangeAsync(who => presets.CreateAsync(who, draft));

    /// <summary>Replaces what a preset holds (its name included) with <paramref name="draft"/>.</summary>
    public Task<string?> UpdateAsync(Guid id, PresetDraft draft) => ChangeAsync(who => presets.UpdateAsync(who, id, draft, "ui"));

    public Task<string?> RenameAsync(Guid id, string? name) => ChangeAsync(who => presets.RenameAsync(who, id, name, "ui"));

    /// <summary>Publishes a copy of the picked preset to everyone (administrators only; the service checks again) and picks the copy.</summary>
    public Task<string?> PublishAsync(Guid id, string? name) => ChangeAsync(who => presets.PublishAsync(who, id, name, "ui"));

    /// <summary>Deletes one of the person's presets, or (an administrator) withdraws a published one.</summary>
    public async Task<string?> DeleteAsync(Guid id)
    {
        if (actor is not { } who)
        {
            return "Sign in first.";
        }

        var result = await presets.DeleteAsync(who, id, "ui");
        await LoadAsync(who);
        return result.Succeeded ? null : Refusal(result.Outcome, result.Error);
    }

    private async Task<string?> ChangeAsync(Func<JobActor, Task<PresetResult<PresetView>>> change)
    {
        if (actor is not { } who)
        {
            return "Sign in first.";
        }

        var result = await change(who);
        await LoadAsync(who);
        if (!result.Succeeded)
        {
            return Refusal(result.Outcome, result.Error);
        }

        SelectedId = result.Value!.Id;
        return null;
    }

    private static string Refusal(PresetOutcome outcome, string? error) =>
        error ?? (outcome == PresetOutcome.NotFound ? "That preset is not there any more (deleted in another tab?)." : "That did not work.");
}
