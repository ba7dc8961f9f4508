using System.Text.Json;
using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using MudBlazor;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// Paints an inpainting mask over an image. The pixels stay in the browser: <see cref="UploadMaskAsync"/>
/// has the browser POST the PNG to an upload endpoint and returns only the server's JSON answer.
/// </summary>
public sealed partial class MaskEditor : IMaskCanvas, IAsyncDisposable
{
    public const string ModulePath = "./js/mask-editor.js";

    /// <summary>Material Design Icons' eraser (Pictogrammers, Apache-2.0); Material's own set has none.</summary>
    private const string EraserIcon =
        "<path d=\"M16.24,3.56L21.19,8.5C21.97,9.29 21.97,10.55 21.19,11.34L12,20.53C10.44,22.09 7.91,22.09 6.34,20.53L2.81,17C2.03,16.21 2.03,14.95 2.81,14.16L13.41,3.56C14.2,2.78 15.46,2.78 16.24,3.56M4.22,15.58L7.76,19.11C8.54,19.9 9.8,19.9 10.59,19.11L14.12,15.58L9.17,10.63L4.22,15.58Z\"/>";

    private ElementReference canvasHost;
    private IJSObjectReference? module;
    private IJSObjectReference? editor;
    private DotNetObjectReference<MaskEditor>? selfReference;
    private (string Url, int Width, int Height, string? Mask)? createdFor;
    private bool initialised;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    /// <summary>The picture to mask, by URL (same origin); never sent over the circuit as pixels.</summary>
    [Parameter, EditorRequired]
    public string ImageUrl { get; set; } = "";

    /// <summary>The mask's width in pixels; 0 takes the image's own.</summary>
    [Parameter]
    public int ImageWidth { get; set; }

    /// <summary>The mask's height in pixels; 0 takes the image's own.</summary>
    [Parameter]
    public int ImageHeight { get; set; }

    /// <summary>A saved mask (same size, same origin) the editor starts from, e.g. the one an image was made with; null: empty.</summary>
    [Parameter]
    public string? InitialMaskUrl { get; set; }

    [Parameter]
    public EventCallback<MaskState> OnChanged { get; set; }

    public MaskState State { get; private set; } = MaskState.Empty;

    public MaskTool Tool { get; private set; } = MaskTool.Brush;

    /// <summary>Brush diameter in image pixels.</summary>
    public int BrushSize { get; private set; }

    public int Hardness { get; private set; } = 80;

    public int OverlayOpacity { get; private set; } = 50;

    /// <summary>The mask alone, white on black, without the picture.</summary>
    public bool MaskOnly { get; private set; }

    /// <summary>Screen pixels per image pixel, in percent (100: one to one), as the browser reports it.</summary>
    public int ZoomPercent { get; private set; }

    /// <summary>The editor fills the window (more room than the form's column).</summary>
    public bool FullScreen { get; private set; }

    /// <summary>Scales with the image, so a 4 K picture can be masked in a few strokes and a small one precisely.</summary>
    public int MaxBrushSize => LongestSide > 0 ? Math.Clamp(LongestSide / 4, 32, 1024) : 256;

    public bool IsReady => editor is not null;

    private string? EditorError { get; set; }

    private string Announcement { get; set; } = "";

    private int LongestSide => Math.Max(ImageWidth, ImageHeight);

    protected override void OnParametersSet()
    {
        if (!initialised)
        {
            initialised = true;
            BrushSize = LongestSide > 0 ? Math.Clamp((int)Math.Round(LongestSide / 16.0), 4, MaxBrushSize) : 48;
        }
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        // Created after the first interactive render and again whenever the picture changes.
        if (createdFor != (ImageUrl, ImageWidth, ImageHeight, InitialMaskUrl))
        {
            createdFor = (ImageUrl, ImageWidth, ImageHeight, InitialMaskUrl);
            await CreateEditorAsync();
        }
    }

    private async Task CreateEditorAsync()
    {
        await DisposeEditorAsync();
        State = MaskState.Empty;
        EditorError = null;
        try
        {
            module ??= await JS.InvokeAsync<IJSObjectReference>("import", ModulePath);
            selfReference ??= DotNetObjectReference.Create(this);
            editor = await module.InvokeAsync<IJSObjectReference>("createMaskEditor", canvasHost, selfReference, new
            {
                imageUrl = Navigation.Rooted(ImageUrl),
                maskUrl = InitialMaskUrl is null ? null : Navigation.Rooted(InitialMaskUrl),
                width = ImageWidth,
                height = ImageHeight,
                tool = ToolName(Tool),
                brushSize = BrushSize,
                maxBrushSize = MaxBrushSize,
                hardness = Hardness / 100.0,
                overlayOpacity = OverlayOpacity / 100.0,
            });
        }
        catch (JSException exception)
        {
            EditorError = FirstLine(exception.Message);
        }

        StateHasChanged();
    }

    /// <summary>Called by the browser, throttled: undo/redo availability and whether anything is painted.</summary>
    [JSInvokable]
    public async Task OnMaskChanged(MaskState state)
    {
        State = state;
        EditorError = state.ImageError;
        StateHasChanged();
        await OnChanged.InvokeAsync(state);
    }

    /// <summary>Called by the browser after a keyboard shortcut changed the tool or the brush size.</summary>
    [JSInvokable]
    public Task OnToolChanged(MaskToolState state)
    {
        Tool = state.Tool switch
        {
            "eraser" => MaskTool.Eraser,
            "rect" => MaskTool.Rectangle,
            "lasso" => MaskTool.Lasso,
            _ => MaskTool.Brush,
        };
        BrushSize = Math.Clamp(state.BrushSize, 1, MaxBrushSize);
        MaskOnly = state.MaskOnly;
        Announcement = Tool is MaskTool.Brush or MaskTool.Eraser ? $"{Tool}, {BrushSize} pixels" : $"{Tool}{(MaskOnly ? ", mask only" : "")}";
        StateHasChanged();
        return Task.CompletedTask;
    }

    /// <summary>Called by the browser, throttled, after a zoom: the scale to show on the toolbar.</summary>
    [JSInvokable]
    public Task OnViewChanged(int percent)
    {
        ZoomPercent = Math.Max(1, percent);
        StateHasChanged();
        return Task.CompletedTask;
    }

    /// <summary>
    /// Has the browser POST the mask PNG to <paramref name="uploadUrl"/> (same origin, with the session cookie)
    /// and returns the server's JSON answer as text. Throws <see cref="MaskUploadException"/> with the server's reason.
    /// </summary>
    public async Task<string> UploadMaskAsync(string uploadUrl, CancellationToken cancellationToken = default)
    {
        var current = editor ?? throw new InvalidOperationException("The mask editor has not started yet.");
        try
        {
            var answer = await current.InvokeAsync<JsonElement>("uploadMask", cancellationToken, Navigation.Rooted(uploadUrl));
            return answer.GetRawText();
        }
        catch (JSException exception)
        {
            throw new MaskUploadException(FirstLine(exception.Message), exception);
        }
    }

    /// <summary>Whether any pixel of the mask would be repainted; asks the browser, so it is exact.</summary>
    public async Task<bool> HasPaintAsync()
    {
        return editor is not null && await editor.InvokeAsync<bool>("hasPaint");
    }

    private async Task SelectToolAsync(MaskTool tool)
    {
        Tool = tool;
        Announcement = $"{tool} selected";
        await CallEditorAsync("setTool", ToolName(tool));
    }

    private async Task SetBrushSizeAsync(int size)
    {
        BrushSize = size;
        await CallEditorAsync("setBrushSize", size);
    }

    private async Task SetHardnessAsync(int percent)
    {
        Hardness = percent;
        await CallEditorAsync("setHardness", percent / 100.0);
    }

    private async Task SetOverlayOpacityAsync(int percent)
    {
        OverlayOpacity = percent;
        await CallEditorAsync("setOverlayOpacity", percent / 100.0);
    }

    private async Task ToggleMaskOnlyAsync()
    {
        MaskOnly = !MaskOnly;
        Announcement = MaskOnly ? "Showing the mask only" : "Showing the picture with its mask";
        await CallEditorAsync("setMaskOnly", MaskOnly);
    }

    private async Task ToggleFullScreenAsync()
    {
        FullScreen = !FullScreen;
        Announcement = FullScreen ? "Mask editor fills the window; Escape leaves" : "Mask editor back in the form";
        StateHasChanged();
        // The picture's fitted size changed with the room: start again from "fit".
        await Task.Yield();
        await CallEditorAsync("fitView");
    }

    private async Task OnEditorKeyDownAsync(Microsoft.AspNetCore.Components.Web.KeyboardEventArgs e)
    {
        if (FullScreen && e.Key == "Escape")
        {
            await ToggleFullScreenAsync();
        }
    }

    private Task FitAsync() => CallEditorAsync("fitView");

    private Task ActualSizeAsync() => CallEditorAsync("actualSize");

    private Task ZoomInAsync() => CallEditorAsync("zoomIn");

    private Task ZoomOutAsync() => CallEditorAsync("zoomOut");

    private Task UndoAsync() => CallEditorAsync("undo");

    private Task RedoAsync() => CallEditorAsync("redo");

    private Task InvertAsync() => CallEditorAsync("invert");

    private Task FillAsync() => CallEditorAsync("fill");

    private Task ClearAsync() => CallEditorAsync("clear");

    private async Task CallEditorAsync(string identifier, params object?[] arguments)
    {
        if (editor is null)
        {
            return;
        }

        try
        {
            await editor.InvokeVoidAsync(identifier, arguments);
        }
        catch (JSDisconnectedException)
        {
            // The page is going away; there is no editor left to update.
        }
    }

    private string Pressed(MaskTool tool) => Tool == tool ? "true" : "false";

    private Variant ToolVariant(MaskTool tool) => Tool == tool ? Variant.Filled : Variant.Text;

    private Color ToolColor(MaskTool tool) => Tool == tool ? Color.Primary : Color.Default;

    private static string ToolName(MaskTool tool) => tool switch
    {
        MaskTool.Eraser => "eraser",
        MaskTool.Rectangle => "rect",
        MaskTool.Lasso => "lasso",
        _ => "brush",
    };

    private string ZoomText => ZoomPercent > 0 ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{ZoomPercent} %") : "Fit";

    /// <summary>Blazor appends the JavaScript stack to the message; the user needs only the first line.</summary>
    private static string FirstLine(string message)
    {
        var end = message.IndexOf('\n', StringComparison.Ordinal);
        return (end < 0 ? message : message[..end]).Trim();
    }

    private async Task DisposeEditorAsync()
    {
        var current = editor;
        editor = null;
        if (current is null)
        {
            return;
        }

        try
        {
            await current.InvokeVoidAsync("dispose");
            await current.DisposeAsync();
        }
        catch (JSDisconnectedException)
        {
            // The circuit is gone, and with it the browser's editor.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await DisposeEditorAsync();
        if (module is not null)
        {
            try
            {
                await module.DisposeAsync();
            }
            catch (JSDisconnectedException)
            {
                // The circuit is gone; nothing to release in the browser.
            }
        }

        selfReference?.Dispose();
    }
}
