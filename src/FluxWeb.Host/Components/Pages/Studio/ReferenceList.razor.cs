using System.Globalization;
using FluxWeb.Domain.Generation;
using Microsoft.AspNetCore.Components;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// The form's reference pictures in the order the model sees them. Order changes by buttons
/// (keyboard and touch) or by dragging; new pictures come from the picker or a drop, uploaded over HTTP.
/// </summary>
public sealed partial class ReferenceList
{
    private int? dragIndex;
    private int? dropTarget;
    private int pendingUploads;
    private string? problem;
    private string announcement = "";

    [Parameter, EditorRequired]
    public StudioForm Form { get; set; } = default!;

    [Parameter, EditorRequired]
    public GenerationLimits Limits { get; set; } = default!;

    [Parameter, EditorRequired]
    public long MaxUploadBytes { get; set; }

    /// <summary>A result or gallery picture dropped on the slots, by id; the session checks and adds it (ownership, licence, room).</summary>
    [Parameter]
    public EventCallback<Guid> OnImageDropped { get; set; }

    /// <summary>Raised after every change of the list, so the page re-checks the form.</summary>
    [Parameter]
    public EventCallback OnChanged { get; set; }

    private int FreeSlots => Math.Max(0, Form.FreeReferenceSlots(Limits) - pendingUploads);

    /// <summary>With a masked edit's source in place, one fewer reference fits.</summary>
    private int MaxShown => Math.Max(0, Limits.MaxReferences - (Form.Source is null ? 0 : 1));

    private string DropHint => FreeSlots == 0
        ? string.Create(CultureInfo.InvariantCulture, $"The form holds the most pictures it can ({Limits.MaxReferences}, a masked edit's source counted). Remove one to add another.")
        : string.Create(CultureInfo.InvariantCulture, $"or drop up to {FreeSlots} PNG, JPEG or WebP files here (at most {MaxUploadBytes / (1024.0 * 1024.0):0.#} MiB each), drag a result here, or paste a picture (Ctrl+V)");

    private string ItemClass(int index) =>
        "fw-reference" + (dragIndex == index ? " fw-reference-dragging" : "") + (dropTarget == index && dragIndex is not null && dragIndex != index ? " fw-reference-target" : "");

    private int Reserve(int count)
    {
        var allowed = Math.Min(count, FreeSlots);
        if (allowed < count)
        {
            problem = allowed == 0
                ? string.Create(CultureInfo.InvariantCulture, $"No more reference pictures fit: at most {Limits.MaxReferences}, and a masked edit's source counts as one.")
                : string.Create(CultureInfo.InvariantCulture, $"Only {allowed} of the {count} pictures were added: at most {Limits.MaxReferences} fit, and a masked edit's source counts as one.");
        }

        pendingUploads += allowed;
        return allowed;
    }

    private async Task AddUploadedAsync(StudioImage image)
    {
        pendingUploads = Math.Max(0, pendingUploads - 1);
        if (Form.FreeReferenceSlots(Limits) == 0)
        {
            problem = "That picture no longer fits: the form already holds the most pictures it can.";
            return;
        }

        Form.References.Add(image);
        announcement = string.Create(CultureInfo.InvariantCulture, $"Reference {Form.References.Count} added");
        await OnChanged.InvokeAsync();
    }

    private Task ShowProblemAsync(string message)
    {
        pendingUploads = Math.Max(0, pendingUploads - 1);
        problem = message;
        return Task.CompletedTask;
    }

    private async Task MoveAsync(int index, int offset)
    {
        if (Form.MoveReference(index, offset))
        {
            announcement = string.Create(CultureInfo.InvariantCulture, $"Reference moved to place {index + offset + 1}");
            await OnChanged.InvokeAsync();
        }
    }

    private async Task RemoveAsync(int index)
    {
        Form.RemoveReference(index);
        announcement = string.Create(CultureInfo.InvariantCulture, $"Reference {index + 1} removed");
        await OnChanged.InvokeAsync();
    }

    private void StartDrag(int index) => dragIndex = index;

    private void EndDrag()
    {
        dragIndex = null;
        dropTarget = null;
    }

    private async Task DropOnAsync(int index)
    {
        // A file dropped on a thumbnail has no drag index: the drop zone's script handles files.
        if (dragIndex is { } from && from != index)
        {
            await MoveAsync(from, index - from);
        }

        EndDrag();
    }
}
