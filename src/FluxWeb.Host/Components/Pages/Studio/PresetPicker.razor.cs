using FluxWeb.Application.Jobs;
using FluxWeb.Application.Presets;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>The Studio's preset picker; the state is <see cref="PresetState"/>'s, applying is <see cref="StudioSession"/>'s.</summary>
public sealed partial class PresetPicker
{
    private JobActor? loadedFor;
    private bool applying;

    [Inject]
    private PresetState State { get; set; } = default!;

    [Inject]
    private StudioSession Session { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    /// <summary>The signed-in person (the session's, once it is open); presets load for them.</summary>
    [Parameter]
    public JobActor? Actor { get; set; }

    /// <summary>The form changed (a preset was applied): the page shows it.</summary>
    [Parameter]
    public EventCallback OnApplied { get; set; }

    protected override async Task OnParametersSetAsync()
    {
        if (Actor is not null && Actor != loadedFor)
        {
            loadedFor = Actor;
            await State.LoadAsync(Actor);
        }
    }

    private async Task ApplyAsync()
    {
        if (State.SelectedId is not { } id)
        {
            return;
        }

        applying = true;
        try
        {
            await Session.ApplyPresetAsync(id);
        }
        finally
        {
            applying = false;
        }

        await OnApplied.InvokeAsync();
    }

    private Task SaveAsync() => ShowAsync("Save current as preset", FormParameters(PresetDialogMode.Save, null, null, State.CreateAsync), "Preset saved.");

    /// <summary>Replaces the picked preset with the form as it is now (the dialog starts from its name and template).</summary>
    private async Task UpdateAsync()
    {
        if (State.Selected is not { } selected)
        {
            return;
        }

        await ShowAsync("Update the preset from the form", FormParameters(PresetDialogMode.Update, selected.Name, selected.PromptTemplate, draft => State.UpdateAsync(selected.Id, draft)), "Preset updated.");
    }

    private DialogParameters<PresetDialog> FormParameters(PresetDialogMode mode, string? name, string? template, Func<PresetDraft, Task<string?>> submit)
    {
        var form = Session.Form;
        var model = Session.SelectedModel is { Allowed: true } chosen ? chosen : null;
        return new DialogParameters<PresetDialog>
        {
            { d => d.Mode, mode },
            { d => d.Name, name },
            { d => d.Template, template },
            { d => d.CurrentPrompt, form.Prompt },
            { d => d.NegativePrompt, model is not null && StudioForm.NegativePromptUsable(model) && form.NegativePrompt.Trim().Length > 0 ? form.NegativePrompt.Trim() : null },
            { d => d.ModelId, model?.Id },
            { d => d.ModelLabel, model?.Label },
            { d => d.Width, form.Source is null && !form.UsesReferenceSize ? form.Width : null },
            { d => d.Height, form.Source is null && !form.UsesReferenceSize ? form.Height : null },
            { d => d.Steps, model is not null && StudioForm.StepsAdjustable(model) ? form.Steps : null },
            { d => d.Guidance, model is not null && StudioForm.GuidanceAdjustable(model) ? form.Guidance : null },
            { d => d.Submit, submit },
        };
    }

    private async Task RenameAsync()
    {
        if (State.Selected is not { } selected)
        {
            return;
        }

        var parameters = new DialogParameters<PresetDialog>
        {
            { d => d.Mode, PresetDialogMode.Rename },
            { d => d.Name, selected.Name },
            { d => d.Submit, draft => State.RenameAsync(selected.Id, draft.Name) },
        };
        await ShowAsync("Rename the preset", parameters, "Preset renamed.");
    }

    private async Task PublishAsync()
    {
        if (State.Selected is not { } selected)
        {
            return;
        }

        var parameters = new DialogParameters<PresetDialog>
        {
            { d => d.Mode, PresetDialogMode.Publish },
            { d => d.Name, selected.Name },
            { d => d.Submit, draft => State.PublishAsync(selected.Id, draft.Name) },
        };
        await ShowAsync("Publish to everyone", parameters, "Published: everyone on this server sees it under \"Published by admins\".");
    }

    private async Task DeleteAsync()
    {
        if (State.Selected is not { } selected)
        {
            return;
        }

        var question = selected.IsPublished
            ? $"Nobody will see \"{selected.Name}\" any more. Copies people saved of their own stay theirs."
            : $"\"{selected.Name}\" goes for good. Images made with it are not affected.";
        if (await Dialogs.ShowMessageBoxAsync(selected.IsPublished ? "Unpublish this preset?" : "Delete this preset?", question,
                yesText: selected.IsPublished ? "Unpublish" : "Delete", cancelText: "Keep it") != true)
        {
            return;
        }

        if (await State.DeleteAsync(selected.Id) is { } error)
        {
            Snackbar.Add(error, Severity.Warning);
        }
        else
        {
            Snackbar.Add(selected.IsPublished ? "Unpublished." : "Preset deleted.", Severity.Success);
        }
    }

    private async Task ShowAsync(string title, DialogParameters<PresetDialog> parameters, string done)
    {
        var dialog = await Dialogs.ShowAsync<PresetDialog>(title, parameters, new DialogOptions { MaxWidth = MaxWidth.Small, FullWidth = true, CloseOnEscapeKey = true });
        if (await dialog.Result is { Canceled: false })
        {
            Snackbar.Add(done, Severity.Success);
        }
    }
}
