namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// The mask editor's state as the browser reports it (throttled, never per pointer event).
/// <paramref name="Painted"/> is true when any pixel of the mask would be repainted.
/// <paramref name="ImageError"/> says why the image did not load, when it did not.
/// </summary>
public sealed record MaskState(bool CanUndo, bool CanRedo, bool Painted, string? ImageError = null)
{
    public static MaskState Empty { get; } = new(false, false, false);
}

/// <summary>Tool, size and "mask only" after a keyboard shortcut in the editor (B, E, M, L, [ and ], Q).</summary>
public sealed record MaskToolState(string Tool, int BrushSize, bool MaskOnly = false);

public enum MaskTool
{
    Brush,
    Eraser,

    /// <summary>Drag a rectangle; it is filled into the mask (with Alt, taken out).</summary>
    Rectangle,

    /// <summary>Draw a free outline; it is closed and filled (with Alt, taken out).</summary>
    Lasso,
}

/// <summary>The mask was not saved; <see cref="Exception.Message"/> is written for the user.</summary>
public sealed class MaskUploadException(string message, Exception? innerException = null) : Exception(message, innerException);
