using System.Globalization;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Host.Components.Pages.Gallery;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.JSInterop;

namespace FluxWeb.Host.Components.Pages.History;

/// <summary>
/// The signed-in user's prompts, one entry per distinct text, most recently used first. "Reuse"
/// opens the Studio with the settings of the newest image the prompt made (the Studio asks before
/// it replaces its form), or with just the prompt when no image of it is left to take them from.
/// </summary>
public sealed partial class History : IAsyncDisposable
{
    public const int PageSize = 25;

    private PromptHistoryPage? page;
    private int pageIndex;
    private string? searchText;
    private JobActor? actor;
    private int loadVersion;
    private TimeZoneInfo zone = TimeZoneInfo.Utc;
    private IJSObjectReference? module;

    [Inject]
    private PromptHistoryQuery Query { get; set; } = default!;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    private int PageCount => page is null ? 0 : (page.Total + PageSize - 1) / PageSize;

    private string CountText => page!.Total == 1 ? "1 prompt" : string.Create(CultureInfo.InvariantCulture, $"{page.Total} prompts");

    protected override async Task OnInitializedAsync()
    {
        actor = AuthenticationState is null ? null : JobActor.From((await AuthenticationState).User);
        await LoadAsync();
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (!firstRender)
        {
            return;
        }

        try
        {
            module = await JS.InvokeAsync<IJSObjectReference?>("import", BrowserClock.ModulePath);
            if (module is not null)
            {
                zone = await BrowserClock.TimeZoneAsync(module);
                StateHasChanged();
            }
        }
        catch (JSDisconnectedException)
        {
        }
    }

    /// <summary>Where "Reuse" goes: the settings of the prompt's newest image, else the prompt alone.</summary>
    public static string ReuseLink(PromptHistoryEntry entry) =>
        entry.LatestImageId is { } image ? StudioLinks.Settings(image) : StudioLinks.Prompt(entry.Prompt);

    private async Task LoadAsync()
    {
        if (actor is null)
        {
            page = new PromptHistoryPage([], 0, 0, PageSize);
            return;
        }

        var version = ++loadVersion;
        var result = await Query.ListAsync(actor, searchText, pageIndex, PageSize);
        if (version == loadVersion)
        {
            page = result;
        }
    }

    private async Task OnSearchChangedAsync(string? text)
    {
        searchText = text;
        pageIndex = 0;
        await LoadAsync();
    }

    private async Task OnPageChangedAsync(int selected)
    {
        pageIndex = Math.Max(0, selected - 1);
        await LoadAsync();
    }

    private string Meta(PromptHistoryEntry entry)
    {
        var uses = entry.Uses == 1 ? "used once" : string.Create(CultureInfo.InvariantCulture, $"used {entry.Uses} times");
        return $"{uses} · last {BrowserClock.Format(entry.LastUsedUtc, zone)} ({BrowserClock.Name(zone)}) · {entry.LastModelId}";
    }

    private static string Shorten(string prompt) => prompt.Length <= 60 ? prompt : string.Concat(prompt.AsSpan(0, 57), "…");

    public async ValueTask DisposeAsync()
    {
        if (module is not null)
        {
            try
            {
                await module.DisposeAsync();
            }
            catch (JSDisconnectedException)
            {
            }
        }
    }
}
