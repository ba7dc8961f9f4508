using FluxWeb.Host.Endpoints;
using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>A picture the browser uploaded to <see cref="ImageUploadEndpoints.CollectionPath"/>; served at <see cref="Url"/>.</summary>
public sealed record StudioImage(Guid Id, int Width, int Height, string? Name = null)
{
    public string Url => Application.Jobs.JobUrls.Image(Id);
}

/// <summary>What the browser reports after an upload: the server's answer and the file's name.</summary>
public sealed record UploadedImageAnswer(Guid Id, int Width, int Height, string? Name);

/// <summary>
/// Drag-and-drop or pick pictures. The browser checks type and size, uploads each file over HTTP
/// and tells this component only the new image's id (or why it was refused).
/// </summary>
public sealed partial class ImageDropZone : IAsyncDisposable
{
    public const string ModulePath = "./js/image-uploads.js";

    private ElementReference zone;
    private ElementReference input;
    private IJSObjectReference? module;
    private IJSObjectReference? handle;

    // Set when the component leaves the page; the first render's awaits may end after that.
    private bool disposed;
    private DotNetObjectReference<ImageDropZone>? selfReference;
    private bool? attachedDisabled;
    private int uploading;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Parameter]
    public string ButtonText { get; set; } = "Choose pictures";

    [Parameter]
    public string Hint { get; set; } = "or drop PNG, JPEG or WebP files here";

    [Parameter]
    public bool Multiple { get; set; } = true;

    [Parameter]
    public bool Disabled { get; set; }

    /// <summary>The largest file the server takes (<c>Provenance:Decoding:MaxBytes</c>), checked before sending.</summary>
    [Parameter]
    public long MaxBytes { get; set; }

    /// <summary>How many of the dropped files may be uploaded now (the rest are refused with a message by the caller).</summary>
    [Parameter]
    public Func<int, int> Reserve { get; set; } = count => count;

    [Parameter]
    public EventCallback<StudioImage> OnUploaded { get; set; }

    /// <summary>A message for the user: a file was refused in the browser or by the server.</summary>
    [Parameter]
    public EventCallback<string> OnProblem { get; set; }

    /// <summary>A picture of this server dropped by id (a Studio result, a gallery image); the caller checks it may be used.</summary>
    [Parameter]
    public EventCallback<Guid> OnImageDropped { get; set; }

    /// <summary>Pictures pasted from the clipboard anywhere on the page come here (one zone per page).</summary>
    [Parameter]
    public bool AcceptsPaste { get; set; }

    [Parameter]
    public string TestId { get; set; } = "drop-zone";

    private string ZoneClass => Disabled ? "fw-drop-zone fw-drop-disabled" : "fw-drop-zone";

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (!RendererInfo.IsInteractive)
        {
            return;
        }

        try
        {
            if (firstRender)
            {
                module = await JS.InvokeAsync<IJSObjectReference>("import", ModulePath);
                if (disposed)
                {
                    // Removed while the module loaded (the Studio switched panels): its elements are gone from the
                    // page, and attaching to them would throw in the browser and end the user's circuit.
                    await module.DisposeAsync();
                    module = null;
                    return;
                }

                selfReference = DotNetObjectReference.Create(this);
                handle = module is null ? null : await module.InvokeAsync<IJSObjectReference>("attachImageUploads", zone, input, selfReference, new
                {
                    uploadUrl = Navigation.Rooted(ImageUploadEndpoints.CollectionPath),
                    maxBytes = MaxBytes,
                    disabled = Disabled,
                    acceptsImages = OnImageDropped.HasDelegate,
                    acceptsPaste = AcceptsPaste,
                });
                attachedDisabled = Disabled;
            }
            else if (handle is not null && attachedDisabled != Disabled)
            {
                attachedDisabled = Disabled;
                await handle.InvokeVoidAsync("update", new { disabled = Disabled, maxBytes = MaxBytes });
            }
        }
        catch (JSDisconnectedException)
        {
            // The page is going away; there is nothing left to attach to.
        }
        catch (JSException) when (disposed)
        {
            // Removed while the attach was on its way: the browser no longer has the elements.
        }
    }

    /// <summary>Called by the browser before it uploads <paramref name="count"/> files: how many it may send.</summary>
    [JSInvokable]
    public Task<int> ReserveUploads(int count)
    {
        var allowed = Disabled ? 0 : Math.Clamp(Reserve(count), 0, count);
        uploading += allowed;
        StateHasChanged();
        return Task.FromResult(allowed);
    }

    [JSInvokable]
    public async Task UploadSucceeded(UploadedImageAnswer answer)
    {
        uploading = Math.Max(0, uploading - 1);
        await OnUploaded.InvokeAsync(new StudioImage(answer.Id, answer.Width, answer.Height, answer.Name));
        StateHasChanged();
    }

    [JSInvokable]
    public async Task ImageDropped(string id)
    {
        if (!Disabled && Guid.TryParse(id, out var imageId))
        {
            await OnImageDropped.InvokeAsync(imageId);
            StateHasChanged();
        }
    }

    [JSInvokable]
    public async Task UploadFailed(string fileName, string message)
    {
        uploading = Math.Max(0, uploading - 1);
        await OnProblem.InvokeAsync(message);
        StateHasChanged();
    }

    public async ValueTask DisposeAsync()
    {
        disposed = true;
        try
        {
            if (handle is not null)
            {
                await handle.InvokeVoidAsync("dispose");
                await handle.DisposeAsync();
            }

            if (module is not null)
            {
                await module.DisposeAsync();
            }
        }
        catch (JSDisconnectedException)
        {
            // The circuit is gone, and the browser's listeners with it.
        }

        selfReference?.Dispose();
    }
}
