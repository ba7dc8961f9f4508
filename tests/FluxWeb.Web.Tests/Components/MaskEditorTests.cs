using Bunit;
using FluxWeb.Host.Components.Pages.Studio;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;

namespace FluxWeb.Web.Tests.Components;

public sealed class MaskEditorTests
{
    private sealed record Editor(BunitContext Context, BunitJSModuleInterop Module, BunitJSModuleInterop Instance);

    private static Editor NewContext()
    {
        var ctx = new BunitContext();
        ctx.AddTestServices();
        var module = ctx.JSInterop.SetupModule(MaskEditor.ModulePath);
        // createMaskEditor returns the editor object whose methods the toolbar calls.
        var instance = module.SetupModule(invocation => invocation.Identifier == "createMaskEditor");
        return new Editor(ctx, module, instance);
    }

    private static IRenderedComponent<MaskEditor> RenderEditor(BunitContext ctx, Action<MaskState>? onChanged = null) =>
        ctx.Render<MaskEditor>(p => p
            .Add(e => e.ImageUrl, "/api/v1/uploads/masks/abc")
            .Add(e => e.ImageWidth, 1024)
            .Add(e => e.ImageHeight, 768)
            .Add(e => e.OnChanged, onChanged ?? (_ => { })));

    [Fact]
    public async Task Toolbar_renders_labelled_tools_and_creates_the_editor_on_the_image()
    {
        var editor = NewContext();
        await using var ctx = editor.Context;

        var cut = RenderEditor(ctx);

        foreach (var label in new[] { "Brush", "Eraser", "Undo", "Redo", "Invert mask", "Fill mask", "Clear mask" })
        {
            Assert.Single(cut.FindAll($"button[aria-label='{label}']"));
        }

        Assert.Equal("true", cut.Find("[data-testid=mask-tool-brush]").GetAttribute("aria-pressed"));
        Assert.Equal("false", cut.Find("[data-testid=mask-tool-eraser]").GetAttribute("aria-pressed"));
        var sliders = cut.FindAll("input[type=range]").Select(s => s.GetAttribute("aria-label")).ToList();
        Assert.Equal(["Brush size in image pixels", "Brush hardness in percent", "Mask overlay opacity in percent"], sliders);
        Assert.NotNull(cut.Find("[role=group][aria-label='Mask tools']"));

        var create = Assert.Single(editor.Module.Invocations["createMaskEditor"]);
        var options = create.Arguments[2]!;
        Assert.Equal("/api/v1/uploads/masks/abc", options.GetType().GetProperty("imageUrl")!.GetValue(options));
        Assert.Equal(1024, options.GetType().GetProperty("width")!.GetValue(options));
        Assert.Equal(768, options.GetType().GetProperty("height")!.GetValue(options));
        // The default brush scales with the picture: 1/16 of the longest side.
        Assert.Equal(64, options.GetType().GetProperty("brushSize")!.GetValue(options));
        Assert.Equal(64, cut.Instance.BrushSize);
    }

    [Fact]
    public async Task Tool_buttons_call_the_editor_with_the_right_arguments()
    {
        var editor = NewContext();
        await using var ctx = editor.Context;
        var cut = RenderEditor(ctx);

        await cut.Find("[data-testid=mask-tool-eraser]").ClickAsync(new MouseEventArgs());
        await cut.Find("[data-testid=mask-tool-brush]").ClickAsync(new MouseEventArgs());
        await cut.Find("[data-testid=mask-invert]").ClickAsync(new MouseEventArgs());
        await cut.Find("[data-testid=mask-fill]").ClickAsync(new MouseEventArgs());
        await cut.FindAll("input[type=range]")[0].InputAsync(new ChangeEventArgs { Value = "40" });
        await cut.FindAll("input[type=range]")[1].InputAsync(new ChangeEventArgs { Value = "25" });
        await cut.FindAll("input[type=range]")[2].InputAsync(new ChangeEventArgs { Value = "70" });

        Assert.Equal(["eraser", "brush"], editor.Instance.Invocations["setTool"].Select(i => i.Arguments[0]));
        Assert.Single(editor.Instance.Invocations["invert"]);
        Assert.Single(editor.Instance.Invocations["fill"]);
        Assert.Equal(40, Assert.Single(editor.Instance.Invocations["setBrushSize"]).Arguments[0]);
        Assert.Equal(0.25, Assert.Single(editor.Instance.Invocations["setHardness"]).Arguments[0]);
        Assert.Equal(0.7, Assert.Single(editor.Instance.Invocations["setOverlayOpacity"]).Arguments[0]);
        Assert.Equal("true", cut.Find("[data-testid=mask-tool-brush]").GetAttribute("aria-pressed"));
    }

    [Fact]
    public async Task Mask_changes_from_the_browser_enable_undo_redo_and_clear_and_reach_the_parent()
    {
        var editor = NewContext();
        await using var ctx = editor.Context;
        var reported = new List<MaskState>();
        var cut = RenderEditor(ctx, reported.Add);
        Assert.True(cut.Find("[data-testid=mask-undo]").HasAttribute("disabled"));
        Assert.True(cut.Find("[data-testid=mask-redo]").HasAttribute("disabled"));
        Assert.True(cut.Find("[data-testid=mask-clear]").HasAttribute("disabled"));

        await cut.InvokeAsync(() => cut.Instance.OnMaskChanged(new MaskState(CanUndo: true, CanRedo: false, Painted: true)));

        Assert.False(cut.Find("[data-testid=mask-undo]").HasAttribute("disabled"));
        Assert.True(cut.Find("[data-testid=mask-redo]").HasAttribute("disabled"));
        Assert.False(cut.Find("[data-testid=mask-clear]").HasAttribute("disabled"));
        await cut.Find("[data-testid=mask-undo]").ClickAsync(new MouseEventArgs());
        Assert.Single(editor.Instance.Invocations["undo"]);

        await cut.InvokeAsync(() => cut.Instance.OnMaskChanged(new MaskState(CanUndo: false, CanRedo: true, Painted: false)));

        Assert.True(cut.Find("[data-testid=mask-undo]").HasAttribute("disabled"));
        Assert.False(cut.Find("[data-testid=mask-redo]").HasAttribute("disabled"));
        await cut.Find("[data-testid=mask-redo]").ClickAsync(new MouseEventArgs());
        Assert.Single(editor.Instance.Invocations["redo"]);
        Assert.Equal([true, false], reported.Select(s => s.Painted));
    }

    [Fact]
    public async Task Keyboard_shortcuts_in_the_browser_update_the_toolbar()
    {
        var editor = NewContext();
        await using var ctx = editor.Context;
        var cut = RenderEditor(ctx);

        await cut.InvokeAsync(() => cut.Instance.OnToolChanged(new MaskToolState("eraser", 90)));

        Assert.Equal("true", cut.Find("[data-testid=mask-tool-eraser]").GetAttribute("aria-pressed"));
        Assert.Equal(90, cut.Instance.BrushSize);
        Assert.Contains("90 px", cut.Find("[data-testid=mask-size]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_image_that_fails_to_load_is_reported()
    {
        var editor = NewContext();
        await using var ctx = editor.Context;
        var cut = RenderEditor(ctx);

        await cut.InvokeAsync(() => cut.Instance.OnMaskChanged(new MaskState(false, false, false, "The image could not be loaded.")));

        Assert.Equal("The image could not be loaded.", cut.Find("[data-testid=mask-editor-error]").TextContent.Trim());
    }

    [Fact]
    public async Task Upload_returns_the_servers_json_and_has_paint_asks_the_browser()
    {
        var editor = NewContext();
        await using var ctx = editor.Context;
        editor.Instance.Setup<System.Text.Json.JsonElement>("uploadMask", "/api/v1/uploads/masks")
            .SetResult(System.Text.Json.JsonDocument.Parse("""{"id":"abc","width":1024,"height":768,"paintedPixels":12}""").RootElement);
        editor.Instance.Setup<bool>("hasPaint").SetResult(true);
        var cut = RenderEditor(ctx);

        var json = await cut.InvokeAsync(() => cut.Instance.UploadMaskAsync("/api/v1/uploads/masks"));

        Assert.Equal("""{"id":"abc","width":1024,"height":768,"paintedPixels":12}""", json);
        Assert.True(await cut.InvokeAsync(cut.Instance.HasPaintAsync));
    }

    [Fact]
    public async Task A_refused_upload_throws_with_the_servers_reason_only()
    {
        var editor = NewContext();
        await using var ctx = editor.Context;
        editor.Instance.Setup<System.Text.Json.JsonElement>("uploadMask", "/api/v1/uploads/masks")
            .SetException(new Microsoft.JSInterop.JSException("The mask was not saved: too large\nError: at uploadMask (mask-editor.js:1:1)"));
        var cut = RenderEditor(ctx);

        var refusal = await Assert.ThrowsAsync<MaskUploadException>(() => cut.InvokeAsync(() => cut.Instance.UploadMaskAsync("/api/v1/uploads/masks")));

        Assert.Equal("The mask was not saved: too large", refusal.Message);
    }

    [Fact]
    public async Task Disposing_disposes_the_browser_editor()
    {
        var editor = NewContext();
        await using var ctx = editor.Context;
        RenderEditor(ctx);
        Assert.Empty(editor.Instance.Invocations["dispose"]);

        await ctx.DisposeComponentsAsync();

        Assert.Single(editor.Instance.Invocations["dispose"]);
    }
}
