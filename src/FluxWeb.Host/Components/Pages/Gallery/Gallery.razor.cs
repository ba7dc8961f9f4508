using System.Globalization;
using FluxWeb.Application.Boards;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.JSInterop;
using MudBlazor;

namespace FluxWeb.Host.Components.Pages.Gallery;

/// <summary>
/// The signed-in user's generated images, newest first, loaded a page at a time as the grid
/// scrolls (an IntersectionObserver near the end, or the "Load more" button). Filters live in the
/// address (<c>?q=&amp;model=&amp;board=&amp;from=&amp;to=&amp;favourites=true</c>) so a reload or the back button keeps
/// them. Thumbnails and downloads are URLs of the authorised endpoints; only text crosses the circuit.
/// </summary>
public sealed partial class Gallery : IAsyncDisposable
{
    public const int PageSize = 48;

    /// <summary>The model select's "no filter" value (a select cannot hold null).</summary>
    public const string AllModels = "";

    /// <summary>The board select's "no filter" value.</summary>
    public const string AllBoards = "";

    private const string DateFormat = "yyyy-MM-dd";

    private readonly ImageSelection selection = new();
    private List<GalleryItem>? items;
    private string? nextCursor;
    private int hidden;
    private bool loadingMore;
    private int loadVersion;
    private IReadOnlyList<string> models = [];
    private IReadOnlyList<BoardSummary> boards = [];
    private JobActor? actor;

    private string? searchText;
    private string modelId = AllModels;
    private string boardId = AllBoards;
    private DateRange? dateRange;
    private bool favouritesOnly;
    private bool groupByBatch;
    private QueryState? applied;
    private QueryState? filterOfSelection;
    private TimeZoneInfo zone = TimeZoneInfo.Utc;

    private ElementReference sentinel;
    private IJSObjectReference? module;
    private IJSObjectReference? observer;
    private DotNetObjectReference<Gallery>? selfReference;
    private bool observerStarting;
    private bool disposed;

    [SupplyParameterFromQuery(Name = "q")]
    public string? Q { get; set; }

    [SupplyParameterFromQuery(Name = "model")]
    public string? Model { get; set; }

    /// <summary>First day (yyyy-MM-dd, on the browser's clock), inclusive.</summary>
    /// <summary>A board (id) of mine or shared with me: only my images on it.</summary>
    [SupplyParameterFromQuery(Name = "board")]
    public string? Board { get; set; }

    [SupplyParameterFromQuery(Name = "from")]
    public string? From { get; set; }

    /// <summary>Last day (yyyy-MM-dd, on the browser's clock), inclusive.</summary>
    [SupplyParameterFromQuery(Name = "to")]
    public string? To { get; set; }

    [SupplyParameterFromQuery(Name = "favourites")]
    public bool? Favourites { get; set; }

    [Inject]
    private GalleryQuery Query { get; set; } = default!;

    [Inject]
    private BoardService BoardService { get; set; } = default!;

    [Inject]
    private GalleryActions Actions { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private IBrowserViewportService Viewport { get; set; } = default!;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    /// <summary>What the filters were last loaded for, in the address's terms.</summary>
    private sealed record QueryState(string? Q, string? Model, string? Board, string? From, string? To, bool Favourites);

    private string HiddenText => hidden == 1
        ? "1 image hidden: made by a non-commercial model; your account is commercial. It is kept, and administrators can see it."
        : string.Create(CultureInfo.InvariantCulture, $"{hidden} images hidden: made by a non-commercial model; your account is commercial. They are kept, and administrators can see them.");

    protected override async Task OnInitializedAsync()
    {
        actor = AuthenticationState is null ? null : JobActor.From((await AuthenticationState).User);
        if (actor is not null)
        {
            models = await Query.ModelsAsync(actor);
            boards = await BoardService.ListAsync(actor);
        }
    }

    protected override async Task OnParametersSetAsync()
    {
        var fromAddress = new QueryState(Clean(Q), Clean(Model), ParseBoard(Board)?.ToString(), ParseDay(From)?.ToString(DateFormat, CultureInfo.InvariantCulture), ParseDay(To)?.ToString(DateFormat, CultureInfo.InvariantCulture), Favourites == true);
        if (fromAddress == applied)
        {
            // Our own address update coming back from the router: already loaded.
            return;
        }

        searchText = fromAddress.Q;
        modelId = fromAddress.Model ?? AllModels;
        boardId = fromAddress.Board ?? AllBoards;
        favouritesOnly = fromAddress.Favourites;
        dateRange = fromAddress.From is null && fromAddress.To is null ? null
            : new DateRange(ParseDay(fromAddress.From)?.ToDateTime(TimeOnly.MinValue), ParseDay(fromAddress.To)?.ToDateTime(TimeOnly.MinValue));
        applied = fromAddress;
        await ReloadAsync();
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (disposed)
        {
            return;
        }

        try
        {
            if (firstRender)
            {
                module = await JS.InvokeAsync<IJSObjectReference?>("import", BrowserClock.ModulePath);
                if (module is not null)
                {
                    var browserZone = await BrowserClock.TimeZoneAsync(module);
                    if (browserZone != zone)
                    {
                        zone = browserZone;
                        // Day filters mean days on the user's clock: load again if one is set.
                        if (dateRange is not null)
                        {
                            await ReloadAsync();
                            StateHasChanged();
                        }
                    }
                }
            }

            // The sentinel exists only while the grid has items; observe it once it is there.
            if (observer is null && !observerStarting && module is not null && items is { Count: > 0 })
            {
                observerStarting = true;
                try
                {
                    selfReference ??= DotNetObjectReference.Create(this);
                    observer = await module.InvokeAsync<IJSObjectReference?>("observeSentinel", sentinel, selfReference, nameof(LoadMoreFromScrollAsync));
                }
                finally
                {
                    observerStarting = false;
                }
            }
        }
        catch (JSDisconnectedException)
        {
            // The page was closed while starting.
        }
    }

    private GalleryFilter CurrentFilter() => new()
    {
        Search = searchText,
        ModelId = string.IsNullOrEmpty(modelId) ? null : modelId,
        FromUtc = dateRange?.Start is { } start ? BrowserClock.StartOfDayUtc(DateOnly.FromDateTime(start), zone) : null,
        ToUtc = dateRange?.End is { } end ? BrowserClock.StartOfDayUtc(DateOnly.FromDateTime(end).AddDays(1), zone) : null,
        FavouritesOnly = favouritesOnly,
        BoardId = ParseBoard(boardId),
        // The gallery is my images: on a board, mine among everyone's there (the board's own page shows them all).
        OwnerId = ParseBoard(boardId) is null ? null : actor?.UserId,
    };

    private async Task ReloadAsync()
    {
        if (actor is null)
        {
            items = [];
            return;
        }

        var version = ++loadVersion;
        var page = await Query.ListAsync(actor, CurrentFilter(), null, PageSize);
        // Another view, another set of images: what was selected in the last one is not carried over.
        if (filterOfSelection != applied)
        {
            selection.Clear();
        }

        filterOfSelection = applied;
        if (version != loadVersion)
        {
            // The filters changed while this page loaded; the newer load wins.
            return;
        }

        items = [.. page.Items];
        nextCursor = page.NextCursor;
        hidden = page.HiddenByLicence;
        await RestartObserverAsync();
    }

    private async Task LoadMoreAsync()
    {
        if (actor is null || items is null || nextCursor is null || loadingMore)
        {
            return;
        }

        loadingMore = true;
        var version = loadVersion;
        try
        {
            var page = await Query.ListAsync(actor, CurrentFilter(), nextCursor, PageSize);
            if (version != loadVersion)
            {
                return;
            }

            var known = items.Select(i => i.Id).ToHashSet();
            items.AddRange(page.Items.Where(i => !known.Contains(i.Id)));
            nextCursor = page.NextCursor;
            hidden = page.HiddenByLicence;
        }
        finally
        {
            loadingMore = false;
        }
    }

    /// <summary>Called by the browser when the end of the grid comes near; answers whether more pages exist.</summary>
    [JSInvokable]
    public async Task<bool> LoadMoreFromScrollAsync()
    {
        await LoadMoreAsync();
        StateHasChanged();
        return nextCursor is not null;
    }

    private async Task OnSearchChangedAsync(string? text)
    {
        searchText = text;
        await ApplyFiltersAsync();
    }

    private async Task OnModelChangedAsync(string? model)
    {
        modelId = model ?? AllModels;
        await ApplyFiltersAsync();
    }

    private async Task OnBoardChangedAsync(string? board)
    {
        boardId = board ?? AllBoards;
        await ApplyFiltersAsync();
    }

    private async Task OnDateRangeChangedAsync(DateRange? range)
    {
        dateRange = range is { Start: null, End: null } ? null : range;
        await ApplyFiltersAsync();
    }

    private async Task OnFavouritesChangedAsync(bool only)
    {
        favouritesOnly = only;
        await ApplyFiltersAsync();
    }

    private async Task ClearFiltersAsync()
    {
        (searchText, modelId, boardId, dateRange, favouritesOnly) = (null, AllModels, AllBoards, null, false);
        await ApplyFiltersAsync();
    }

    /// <summary>Loads for the new filters and writes them into the address (replacing the entry, so Back leaves the gallery).</summary>
    private async Task ApplyFiltersAsync()
    {
        applied = new QueryState(
            Clean(searchText),
            Clean(modelId),
            ParseBoard(boardId)?.ToString(),
            dateRange?.Start is { } start ? start.ToString(DateFormat, CultureInfo.InvariantCulture) : null,
            dateRange?.End is { } end ? end.ToString(DateFormat, CultureInfo.InvariantCulture) : null,
            favouritesOnly);
        // Always the same order, so one set of filters has one address.
        var parts = new List<string>();
        void Add(string name, string? value)
        {
            if (value is not null)
            {
                parts.Add($"{name}={Uri.EscapeDataString(value)}");
            }
        }

        Add("q", applied.Q);
        Add("model", applied.Model);
        Add("board", applied.Board);
        Add("from", applied.From);
        Add("to", applied.To);
        Add("favourites", applied.Favourites ? "true" : null);
        var uri = parts.Count == 0 ? "gallery" : $"gallery?{string.Join('&', parts)}";
        Navigation.NavigateTo(uri, replace: true);
        await ReloadAsync();
    }

    private async Task ToggleFavouriteAsync(GalleryItem item)
    {
        if (actor is null || items is null)
        {
            return;
        }

        var wanted = !item.Favourite;
        var result = await Actions.SetFavouriteAsync(actor, item.Id, wanted);
        if (result.Outcome == GalleryActionOutcome.Done)
        {
            Replace(item.Id, i => i with { Favourite = wanted });
        }
        else
        {
            Snackbar.Add(result.Reason ?? "That image no longer exists.", Severity.Warning);
        }
    }

    /// <summary>After a bulk change the grid is loaded again (favourites, deletions, board additions are the database's now).</summary>
    private async Task OnSelectionChangedAsync(bool changed)
    {
        if (changed)
        {
            await ReloadAsync();
        }
    }

    private async Task DeleteAsync(GalleryItem item)
    {
        if (actor is not null && await GalleryDeletion.ConfirmAndDeleteAsync(Dialogs, Snackbar, Actions, actor, item.Id))
        {
            items?.RemoveAll(i => i.Id == item.Id);
        }
    }

    private async Task OpenAsync(GalleryItem item)
    {
        // Full screen on phones; a wide dialog elsewhere.
        var phone = await Viewport.IsMediaQueryMatchAsync("(max-width: 599.98px)");
        var parameters = new DialogParameters<ImageDetailDialog>
        {
            { d => d.ImageId, item.Id },
            { d => d.Order, [.. items?.Select(i => i.Id) ?? []] },
            { d => d.Zone, zone },
            { d => d.OnChanged, EventCallback.Factory.Create<ImageChange>(this, OnDetailChanged) },
        };
        var options = new DialogOptions { MaxWidth = MaxWidth.Large, FullWidth = true, FullScreen = phone, CloseButton = true, CloseOnEscapeKey = true };
        await Dialogs.ShowAsync<ImageDetailDialog>("Image details", parameters, options);
    }

    private void OnDetailChanged(ImageChange change)
    {
        if (change.Deleted)
        {
            items?.RemoveAll(i => i.Id == change.ImageId);
        }
        else if (change.Favourite is { } favourite)
        {
            Replace(change.ImageId, i => i with { Favourite = favourite });
        }
    }

    private void Replace(Guid id, Func<GalleryItem, GalleryItem> change)
    {
        var index = items?.FindIndex(i => i.Id == id) ?? -1;
        if (index >= 0)
        {
            items![index] = change(items[index]);
        }
    }

    private void Go(string url) => Navigation.NavigateTo(Navigation.Rooted(url));

    private async Task RestartObserverAsync()
    {
        // A new result set may start with an empty grid (no sentinel): observe afresh after the next render.
        if (observer is not null)
        {
            var old = observer;
            observer = null;
            await DisposeQuietlyAsync(old, dispose: true);
        }
    }

    /// <summary>Runs of images from one submission (a batch), in the grid's order; an image without a job is a run of its own.</summary>
    internal static IReadOnlyList<IReadOnlyList<GalleryItem>> Batches(IReadOnlyList<GalleryItem> items)
    {
        var batches = new List<IReadOnlyList<GalleryItem>>();
        List<GalleryItem>? run = null;
        foreach (var item in items)
        {
            if (run is null || item.BatchId is null || run[0].BatchId != item.BatchId)
            {
                run = [];
                batches.Add(run);
            }

            run.Add(item);
        }

        return batches;
    }

    private string BatchLabel(IReadOnlyList<GalleryItem> batch) =>
        $"{(batch.Count == 1 ? "1 image" : $"{batch.Count} images")} · {BrowserClock.Format(batch[0].CreatedUtc, zone)} · {Shorten(batch[0].Prompt)}";

    private static string? Clean(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();

    private static DateOnly? ParseDay(string? text) =>
        DateOnly.TryParseExact(text, DateFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out var day) ? day : null;

    /// <summary>An id in the address or the select; anything else is no board filter.</summary>
    private static Guid? ParseBoard(string? text) => Guid.TryParse(text, out var id) && id != Guid.Empty ? id : null;

    /// <summary>What the board select shows for a value: a board that is gone (or not mine to see) is named as such, never by its id.</summary>
    private string BoardText(string? value) =>
        ParseBoard(value) is not { } id ? "All my images"
        : boards.FirstOrDefault(b => b.Id == id) is { } board ? BoardLabel(board)
        : "A board you cannot open";

    private static string BoardLabel(BoardSummary board) => board.IsMine ? board.Name : $"{board.Name} (by {board.OwnerEmail})";

    private static string Shorten(string? prompt) => prompt is null ? "image" : prompt.Length <= 60 ? prompt : string.Concat(prompt.AsSpan(0, 57), "…");

    private static async Task DisposeQuietlyAsync(IJSObjectReference? reference, bool dispose = false)
    {
        if (reference is null)
        {
            return;
        }

        try
        {
            if (dispose)
            {
                await reference.InvokeVoidAsync("dispose");
            }

            await reference.DisposeAsync();
        }
        catch (JSDisconnectedException)
        {
            // The circuit is gone: the browser side went with it.
        }
    }

    public async ValueTask DisposeAsync()
    {
        disposed = true;
        await DisposeQuietlyAsync(observer, dispose: true);
        await DisposeQuietlyAsync(module);
        selfReference?.Dispose();
    }
}
