using System.Globalization;
using System.Text.Json;
using FluxWeb.Host.Endpoints;
using Microsoft.AspNetCore.Components;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// "Edit a mask": the Studio links here with <c>?image=&lt;url&gt;&amp;w=&amp;h=</c>; saving uploads the mask
/// from the browser to <see cref="MaskUploadEndpoints.CollectionPath"/>.
/// </summary>
public sealed partial class MaskEditorPage
{
    private MaskEditor? editor;
    private MaskState state = MaskState.Empty;
    private MaskUploadResponse? saved;
    private string? saveError;
    private bool saving;

    /// <summary>The picture's URL on this site (a path such as <c>/api/v1/…</c>); other sites' images are refused.</summary>
    [SupplyParameterFromQuery(Name = "image")]
    public string? Image { get; set; }

    /// <summary>Text, not a number: a typed parameter would turn <c>?w=abc</c> into a server error instead of a message.</summary>
    [SupplyParameterFromQuery(Name = "w")]
    public string? WidthText { get; set; }

    [SupplyParameterFromQuery(Name = "h")]
    public string? HeightText { get; set; }

    /// <summary>0 when not given: the picture's own size is used.</summary>
    private int Width { get; set; }

    private int Height { get; set; }

    private string? Problem { get; set; }

    protected override void OnParametersSet()
    {
        Problem = Validate();
    }

    private static int? ParseSide(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return 0;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var side) && side is >= 1 and <= 8192 ? side : null;
    }

    private string? Validate()
    {
        if (string.IsNullOrWhiteSpace(Image))
        {
            return "No picture was chosen. Open the mask editor from the Studio, next to the picture you want to edit.";
        }

        // Only this site's own pictures: an outside URL would leak the session's activity to another server.
        var local = Image.StartsWith('/') && !Image.StartsWith("//", StringComparison.Ordinal) && !Image.StartsWith("/\\", StringComparison.Ordinal);
        if (!local || !Uri.TryCreate(Image, UriKind.Relative, out _))
        {
            return "The picture must come from this FluxWeb server. Open the mask editor from the Studio.";
        }

        if (ParseSide(WidthText) is not { } width || ParseSide(HeightText) is not { } height)
        {
            return "The picture's size must be a whole number from 1 to 8192 pixels on each side.";
        }

        (Width, Height) = (width, height);

        return null;
    }

    private void OnMaskChanged(MaskState changed)
    {
        state = changed;
    }

    private async Task SaveAsync()
    {
        if (editor is null)
        {
            return;
        }

        saving = true;
        saveError = null;
        try
        {
            var json = await editor.UploadMaskAsync(MaskUploadEndpoints.CollectionPath);
            saved = JsonSerializer.Deserialize<MaskUploadResponse>(json, JsonSerializerOptions.Web);
        }
        catch (MaskUploadException refusal)
        {
            saveError = refusal.Message;
        }
        finally
        {
            saving = false;
        }
    }
}
