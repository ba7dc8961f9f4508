using System.Globalization;
using Microsoft.AspNetCore.Components;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// Compares an edit with its source (a masked edit, a vary, an upscale): the result over the source, cut where the
/// handle is, or both side by side. The images come from the authorised image endpoint by URL; only the
/// handle's position crosses the circuit.
/// </summary>
public sealed partial class BeforeAfterSlider
{
    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Parameter, EditorRequired]
    public string BeforeUrl { get; set; } = "";

    [Parameter, EditorRequired]
    public string AfterUrl { get; set; } = "";

    [Parameter]
    public string BeforeLabel { get; set; } = "Before";

    [Parameter]
    public string AfterLabel { get; set; } = "After";

    /// <summary>What the pictures show (the prompt), for their alt texts.</summary>
    [Parameter]
    public string Alt { get; set; } = "";

    [Parameter]
    public int BeforeWidth { get; set; }

    [Parameter]
    public int BeforeHeight { get; set; }

    [Parameter]
    public int AfterWidth { get; set; }

    [Parameter]
    public int AfterHeight { get; set; }

    [Parameter]
    public string? Caption { get; set; }

    /// <summary>Start side by side (an upscale: the sizes differ, the point is to see both).</summary>
    [Parameter]
    public bool SideBySide { get; set; }

    /// <summary>How much of the "before" shows, in percent from the left.</summary>
    public int Split { get; private set; } = 50;

    // The box has the picture's own shape (never letterboxed), so the handle's position is the picture's.
    private string StackStyle => AfterWidth > 0 && AfterHeight > 0
        ? string.Create(CultureInfo.InvariantCulture, $"aspect-ratio: {AfterWidth} / {AfterHeight}; width: min(100%, calc(70vh * {AfterWidth} / {AfterHeight}))")
        : "aspect-ratio: 1 / 1; width: min(100%, 70vh)";

    private string AfterClip => string.Create(CultureInfo.InvariantCulture, $"clip-path: inset(0 0 0 {Split}%)");

    private string DividerPosition => string.Create(CultureInfo.InvariantCulture, $"left: {Split}%");

    private static string SizeText(int width, int height) => width > 0 && height > 0 ? string.Create(CultureInfo.InvariantCulture, $" · {width}×{height}") : "";

    private void OnSplit(ChangeEventArgs e)
    {
        if (int.TryParse(e.Value?.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            Split = Math.Clamp(value, 0, 100);
        }
    }
}
