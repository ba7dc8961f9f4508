using Bunit;
using FluxWeb.Host.Components.Pages.Studio;
using Microsoft.AspNetCore.Components.Web;

namespace FluxWeb.Web.Tests.Components;

/// <summary>The mask editor's room: zoom and view buttons, rectangle and lasso, "mask only", full screen, a restored mask.</summary>
public sealed class MaskEditorRoomTests
{
    private sealed record Editor(BunitContext Context, BunitJSModuleInterop Module, BunitJSModuleInterop Instance);

    private static Editor NewContext()
    {
        var ctx = new BunitContext();
        ctx.AddTestServices();
        var module = ctx.JSInterop.SetupModule(MaskEditor.ModulePath);
        var instance = module.SetupModule(invocation => invocation.Identifier == "createMaskEditor");
        return new Editor(ctx, module, instance);
    }

    private static IRenderedComponent<MaskEditor> RenderEditor(BunitContext ctx, string? initialMask = null) =>
        ctx.Render<MaskEditor>(p => p
            .Add(e => e.ImageUrl, "/api/v1/images/abc")
            .Add(e => e.ImageWidth, 1024)
            .Add(e => e.ImageHeight, 768)
            .Add(e => e.InitialMaskUrl, initialMask));

    [Fact]
    public async Task Shape_tools_view_buttons_and_mask_only_call_the_editor()
    {
        var editor = NewContext();
        await using var ctx = editor.Context;
        var cut = RenderEditor(ctx);

        await cut.Find("[data-testid=mask-tool-rect]").ClickAsync(new MouseEventArgs());
        Assert.Equal("true", cut.Find("[data-testid=mask-tool-rect]").GetAttribute("aria-pressed"));
        Assert.Equal("false", cut.Find("[data-testid=mask-tool-brush]").GetAttribute("aria-pressed"));
        await cut.Find("[data-testid=mask-tool-lasso]").ClickAsync(new MouseEventArgs());
        await cut.Find("[data-testid=mask-zoom-in]").ClickAsync(new MouseEventArgs());
        await cut.Find("[data-testid=mask-zoom-out]").ClickAsync(new MouseEventArgs());
        await cut.Find("[data-testid=mask-actual-size]").ClickAsync(new MouseEventArgs());
        await cut.Find("[data-testid=mask-fit]").ClickAsync(new MouseEventArgs());
        await cut.Find("[data-testid=mask-only]").ClickAsync(new MouseEventArgs());

        Assert.Equal(["rect", "lasso"], editor.Instance.Invocations["setTool"].Select(i => i.Arguments[0]));
        Assert.Single(editor.Instance.Invocations["zoomIn"]);
        Assert.Single(editor.Instance.Invocations["zoomOut"]);
        Assert.Single(editor.Instance.Invocations["actualSize"]);
        Assert.Single(editor.Instance.Invocations["fitView"]);
        Assert.Equal(true, Assert.Single(editor.Instance.Invocations["setMaskOnly"]).Arguments[0]);
        Assert.Equal("true", cut.Find("[data-testid=mask-only]").GetAttribute("aria-pressed"));
    }

    [Fact]
    public async Task Keys_in_the_browser_update_the_toolbar_and_the_zoom_shows_as_a_percentage()
    {
        var editor = NewContext();
        await using var ctx = editor.Context;
        var cut = RenderEditor(ctx);
        Assert.Equal("Fit", cut.Find("[data-testid=mask-zoom]").TextContent.Trim());

        await cut.InvokeAsync(() => cut.Instance.OnToolChanged(new MaskToolState("lasso", 40, MaskOnly: true)));
        await cut.InvokeAsync(() => cut.Instance.OnViewChanged(250));

        Assert.Equal(MaskTool.Lasso, cut.Instance.Tool);
        Assert.Equal("true", cut.Find("[data-testid=mask-tool-lasso]").GetAttribute("aria-pressed"));
        Assert.Equal("true", cut.Find("[data-testid=mask-only]").GetAttribute("aria-pressed"));
        Assert.Equal("250 %", cut.Find("[data-testid=mask-zoom]").TextContent.Trim());
    }

    [Fact]
    public async Task Full_screen_fills_the_window_and_escape_leaves_it()
    {
        var editor = NewContext();
        await using var ctx = editor.Context;
        var cut = RenderEditor(ctx);

        await cut.Find("[data-testid=mask-fullscreen]").ClickAsync(new MouseEventArgs());

        var root = cut.Find("[data-testid=mask-editor]");
        Assert.Equal("true", root.GetAttribute("data-fullscreen"));
        Assert.Contains("fw-mask-fullscreen", root.ClassList);
        Assert.Equal("dialog", root.GetAttribute("role"));
        await root.KeyDownAsync(new KeyboardEventArgs { Key = "Escape" });
        Assert.Equal("false", cut.Find("[data-testid=mask-editor]").GetAttribute("data-fullscreen"));
        Assert.Equal(2, editor.Instance.Invocations["fitView"].Count);
    }

    [Fact]
    public async Task A_saved_mask_is_handed_to_the_editor_to_start_from()
    {
        var editor = NewContext();
        await using var ctx = editor.Context;

        RenderEditor(ctx, "/api/v1/uploads/masks/0123456789abcdef0123456789abcdef");

        var options = Assert.Single(editor.Module.Invocations["createMaskEditor"]).Arguments[2]!;
        Assert.EndsWith("/api/v1/uploads/masks/0123456789abcdef0123456789abcdef", (string)options.GetType().GetProperty("maskUrl")!.GetValue(options)!, StringComparison.Ordinal);
    }
}
