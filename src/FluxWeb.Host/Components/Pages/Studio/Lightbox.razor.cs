using System.Globalization;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Jobs.Loop;
using FluxWeb.Domain.Jobs;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.JSInterop;
using MudBlazor;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// One picture in the <see cref="Lightbox"/>: the finished image by URL and, for an edit (a masked edit, a vary,
/// an upscale), the picture it was made from, for the before/after comparison.
/// </summary>
public sealed record LightboxItem(Guid ImageId, string Url, int Width, int Height, string Prompt, string Facts)
{
    public string? BeforeUrl { get; init; }

    public string BeforeLabel { get; init; } = "Source";

    /// <summary>An upscale compares side by side first: the point is to see both at their sizes.</summary>
    public bool SideBySide { get; init; }

    public string? CompareCaption { get; init; }

    /// <summary>A finished job's image; the source of a masked edit or vary, or the one reference of an edit (an upscale), is its "before".</summary>
    public static LightboxItem From(JobView job)
    {
        var facts = string.Create(CultureInfo.InvariantCulture, $"{job.Width}×{job.Height} · seed {job.Seed} · {job.ModelId}");
        var item = new LightboxItem(job.OutputImageId!.Value, job.OutputUrl!, job.Width, job.Height, job.Prompt, facts);
        return job.Settings switch
        {
            { SourceImageId: { } source } => item with
            {
                BeforeUrl = JobUrls.Image(source),
                BeforeLabel = "Source",
                CompareCaption = string.Create(CultureInfo.InvariantCulture, $"Masked edit at strength {job.Settings.Strength:0.##}: drag the handle to compare."),
            },
            { ReferenceImageIds: [var only] } when job.Mode == JobMode.Edit => item with
            {
                BeforeUrl = JobUrls.Image(only),
                BeforeLabel = "Original",
                SideBySide = true,
                CompareCaption = "Made from the original as its reference (an upscale or an edit).",
            },
            _ => item,
        };
    }
}

/// <summary>
/// The in-app viewer: finished images one at a time over the page (never a new tab), with ← and → between them,
/// the loop's actions and their keys, a before/after comparison for edits, and a sheet of the shortcuts (?).
/// Focus moves into it when it opens and back to what opened it when it closes (Esc); while it is open the keys it
/// uses do not scroll the page behind it (<c>wwwroot/js/lightbox.js</c>).
/// </summary>
public sealed partial class Lightbox : IAsyncDisposable
{
    private const string ModulePath = "./js/lightbox.js";

    private static readonly (string Keys, string What)[] Shortcuts =
    [
        ("← →", "Previous, next image"),
        ("Home End", "First, last image"),
        ("V", "Vary subtly (strength 0.35, new seed)"),
        ("Shift+V", "Vary strongly (strength 0.7, new seed)"),
        ("M", "More like this (the next seeds)"),
        ("U", "Upscale ×2 through the model"),
        ("X", "Extend the picture (outpainting)"),
        ("E", "Edit with a mask"),
        ("R", "Use as a reference"),
        ("C", "Compare with the source (edits)"),
        ("?", "Show or hide this list"),
        ("Esc", "Close"),
    ];

    private ElementReference container;
    private ResultActions? actions;
    private bool showKeys;
    private bool comparing;
    private bool focusPending;
    private IJSObjectReference? module;

    // The page held still behind the open lightbox; released (focus back to the opener) when it closes.
    private IJSObjectReference? pageHold;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Parameter]
    public IReadOnlyList<LightboxItem> Items { get; set; } = [];

    [Parameter]
    public int Index { get; set; }

    [Parameter]
    public EventCallback<int> IndexChanged { get; set; }

    [Parameter]
    public bool Open { get; set; }

    [Parameter]
    public EventCallback OnClose { get; set; }

    /// <summary>The loop's buttons and keys (only on the viewer's own images).</summary>
    [Parameter]
    public bool ShowActions { get; set; } = true;

    [Parameter]
    public EventCallback<Guid> OnEdit { get; set; }

    [Parameter]
    public EventCallback<Guid> OnUseAsReference { get; set; }

    private bool wasOpen;

    private LightboxItem? Current => Index >= 0 && Index < Items.Count ? Items[Index] : null;

    protected override void OnParametersSet()
    {
        if (Open && !wasOpen)
        {
            (showKeys, focusPending) = (false, true);
            comparing = Current?.BeforeUrl is not null;
        }

        wasOpen = Open;
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        try
        {
            if (focusPending && Open && Current is not null)
            {
                focusPending = false;
                await ReleasePageAsync();
                module ??= await JS.InvokeAsync<IJSObjectReference?>("import", ModulePath);
                pageHold = module is null ? null : await module.InvokeAsync<IJSObjectReference?>("hold", container);
            }
            else if (!Open && pageHold is not null)
            {
                await ReleasePageAsync();
            }
        }
        catch (Exception exception) when (exception is JSException or JSDisconnectedException or InvalidOperationException)
        {
            // Not rendered in a browser (prerendering, tests), or the tab is gone: the buttons still work.
        }
    }

    private async Task ReleasePageAsync()
    {
        if (pageHold is { } held)
        {
            pageHold = null;
            await held.InvokeVoidAsync("release");
            await held.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await ReleasePageAsync();
            if (module is not null)
            {
                await module.DisposeAsync();
            }
        }
        catch (Exception exception) when (exception is JSException or JSDisconnectedException)
        {
            // The circuit is gone and the page with it.
        }
    }

    private async Task GoAsync(int index)
    {
        if (Items.Count == 0)
        {
            return;
        }

        var next = Math.Clamp(index, 0, Items.Count - 1);
        if (next != Index)
        {
            Index = next;
            comparing = Items[next].BeforeUrl is not null;
            await IndexChanged.InvokeAsync(next);
        }
    }

    private void ToggleCompare() => comparing = !comparing && Current?.BeforeUrl is not null;

    private async Task CloseAsync()
    {
        Open = false;
        wasOpen = false;
        await OnClose.InvokeAsync();
    }

    // Without a handler (the gallery) the Studio's deep links do it.
    private async Task EditAsync(Guid imageId)
    {
        await CloseAsync();
        if (OnEdit.HasDelegate)
        {
            await OnEdit.InvokeAsync(imageId);
        }
        else
        {
            Navigation.NavigateTo(Navigation.Rooted(Gallery.StudioLinks.Edit(imageId)));
        }
    }

    private async Task UseAsReferenceAsync(Guid imageId)
    {
        await CloseAsync();
        if (OnUseAsReference.HasDelegate)
        {
            await OnUseAsReference.InvokeAsync(imageId);
        }
        else
        {
            Navigation.NavigateTo(Navigation.Rooted(Gallery.StudioLinks.Reference(imageId)));
        }
    }

    /// <summary>
    /// The lightbox lies above every dialog (it also opens from the gallery's detail dialog), so it closes before it asks
    /// how far to extend; the new image then arrives in the results behind, as after the other loop actions.
    /// </summary>
    private async Task ExtendAsync(Guid imageId)
    {
        if (Items.FirstOrDefault(i => i.ImageId == imageId) is not { } item)
        {
            return;
        }

        await CloseAsync();
        await ExtendDialog.ShowAsync(Dialogs, item.ImageId, item.Width, item.Height);
    }

    private async Task OnSubmittedAsync(bool queued)
    {
        if (queued)
        {
            // The new image arrives in the results behind: closing shows it coming.
            await CloseAsync();
        }
    }

    private async Task OnKeyDownAsync(KeyboardEventArgs e)
    {
        if (e.CtrlKey || e.MetaKey || e.AltKey)
        {
            return;
        }

        switch (e.Key)
        {
            case "ArrowLeft":
                await GoAsync(Index - 1);
                break;
            case "ArrowRight":
                await GoAsync(Index + 1);
                break;
            case "Home":
                await GoAsync(0);
                break;
            case "End":
                await GoAsync(Items.Count - 1);
                break;
            case "Escape":
                if (showKeys)
                {
                    showKeys = false;
                }
                else
                {
                    await CloseAsync();
                }

                break;
            case "?":
                showKeys = !showKeys;
                break;
            case "c" or "C":
                ToggleCompare();
                break;
            case "v" or "V":
                await RunAsync(e.ShiftKey ? LoopAction.VaryStrong : LoopAction.VarySubtle);
                break;
            case "m" or "M":
                await RunAsync(LoopAction.MoreLikeThis);
                break;
            case "u" or "U":
                await RunAsync(LoopAction.UpscaleTwice);
                break;
            case "x" or "X" when actions is not null:
                await actions.ExtendAsync();
                break;
            case "e" or "E" when actions is not null:
                await actions.EditAsync();
                break;
            case "r" or "R" when actions is not null:
                await actions.UseAsReferenceAsync();
                break;
        }
    }

    private Task RunAsync(LoopAction action) => actions?.RunAsync(action) ?? Task.CompletedTask;
}
