using System.Globalization;
using FluxWeb.Application.Jobs.Loop;
using FluxWeb.Host.Components.Pages.Gallery;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// The loop for one finished image (Studio results, lightbox, gallery detail). Vary, more like this and upscale
/// go through <see cref="StudioLoop"/>; edit and reference call the page's handlers, or follow the Studio's deep
/// links where there are none (the gallery).
/// </summary>
public sealed partial class ResultActions
{
    [Inject]
    private StudioLoop Loop { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Parameter, EditorRequired]
    public Guid ImageId { get; set; }

    /// <summary>The image's size, for the upscale's target (and its refusal when ×2 is too large).</summary>
    [Parameter]
    public int Width { get; set; }

    [Parameter]
    public int Height { get; set; }

    /// <summary>Names the image for screen readers (its prompt, shortened).</summary>
    [Parameter]
    public string? Label { get; set; }

    /// <summary>Also offer "edit with a mask" and "use as reference" (the results list has its own buttons for them).</summary>
    [Parameter]
    public bool ShowReuse { get; set; }

    [Parameter]
    public Size Size { get; set; } = Size.Small;

    [Parameter]
    public string? Class { get; set; }

    [Parameter]
    public EventCallback<Guid> OnEdit { get; set; }

    [Parameter]
    public EventCallback<Guid> OnUseAsReference { get; set; }

    /// <summary>
    /// Instead of opening "Extend…" here: the lightbox lies above every dialog (it also opens from the gallery's detail
    /// dialog), so it closes first and opens the dialog itself.
    /// </summary>
    [Parameter]
    public EventCallback<Guid> OnExtend { get; set; }

    /// <summary>After an action was queued (or refused): the lightbox closes on success, so the new image is seen arriving.</summary>
    [Parameter]
    public EventCallback<bool> OnSubmitted { get; set; }

    private string? UpscaleProblem => Loop.UpscaleProblem(Width, Height);

    private string UpscaleText => UpscaleProblem is { } problem ? $"Upscale ×2 is not possible here: {problem}"
        : Width > 0 ? string.Create(CultureInfo.InvariantCulture, $"Upscale ×2 to {Width * 2}×{Height * 2} through the model (U)") : "Upscale ×2 through the model (U)";

    // Not the count itself: the form's image count changes without this component rendering again.
    private const string MoreText = "More like this: the same settings with the next seeds, as many images as the form asks for (M)";

    private const string ExtendText = "Extend: paint new surroundings around it (outpainting), keeping the picture (X)";

    /// <summary>Runs an action as the lightbox's keys do.</summary>
    public async Task RunAsync(LoopAction action)
    {
        var queued = await Loop.RunAsync(ImageId, action);
        await OnSubmitted.InvokeAsync(queued);
    }

    /// <summary>Asks how far to extend the image; the dialog submits it and stays open with a refusal.</summary>
    public async Task ExtendAsync()
    {
        if (OnExtend.HasDelegate)
        {
            await OnExtend.InvokeAsync(ImageId);
        }
        else if (await ExtendDialog.ShowAsync(Dialogs, ImageId, Width, Height))
        {
            await OnSubmitted.InvokeAsync(true);
        }
    }

    public async Task EditAsync()
    {
        if (OnEdit.HasDelegate)
        {
            await OnEdit.InvokeAsync(ImageId);
        }
        else
        {
            Navigation.NavigateTo(Navigation.Rooted(StudioLinks.Edit(ImageId)));
        }
    }

    public async Task UseAsReferenceAsync()
    {
        if (OnUseAsReference.HasDelegate)
        {
            await OnUseAsReference.InvokeAsync(ImageId);
        }
        else
        {
            Navigation.NavigateTo(Navigation.Rooted(StudioLinks.Reference(ImageId)));
        }
    }
}
