using FluxWeb.Application.Presets;
using FluxWeb.Domain.Generation;
using MudBlazor;

namespace FluxWeb.Host.Components.Pages.Studio;

public sealed partial class StudioSession
{
    /// <summary>
    /// Applies a preset to the form: the prompt made from its template, its negative prompt, then its model, size, steps and guidance,
    /// each checked again by <see cref="PresetService.ApplyAsync"/> for this account now. A model is only taken
    /// when this session's picker would let the person choose it too (the licence, the administrator's rules);
    /// what is left out is said in the notice.
    /// </summary>
    public async Task ApplyPresetAsync(Guid presetId)
    {
        if (Actor is null)
        {
            return;
        }

        var current = new GenerationSettings
        {
            ModelId = Form.ModelId ?? "",
            Prompt = Form.Prompt,
            NegativePrompt = Form.NegativePrompt,
            Width = Form.Width,
            Height = Form.Height,
            Steps = Form.Steps,
            Guidance = Form.Guidance,
        };
        var result = await presets.ApplyAsync(Actor, presetId, current);
        if (result.Value is not { } applied)
        {
            Notice = new StudioNotice(Severity.Warning, "Preset not applied:", "it is not there any more (deleted, or no longer published).", "preset");
            return;
        }

        var leftOut = applied.LeftOut.ToList();
        var model = applied.ModelApplied ? Find(applied.Settings.ModelId) : null;
        if (applied.ModelApplied && model is not { Allowed: true })
        {
            leftOut.Add($"its model is not available to you ({model?.Reason ?? "not installed"}), so the model was not changed");
            model = null;
        }

        Form.ApplyPreset(applied.Settings, model);
        historyIndex = -1;
        Revalidate();
        var name = (await presets.GetAsync(Actor, presetId)).Value?.Name ?? "The preset";
        Notice = leftOut.Count == 0
            ? new StudioNotice(Severity.Success, "Preset applied:", $"\"{name}\" is in the form.", "preset")
            : new StudioNotice(Severity.Info, "Preset applied,", $"\"{name}\", except that {string.Join("; ", leftOut)}.", "preset");
    }
}
