using FluxWeb.Application.Images;

namespace FluxWeb.Host.Components.Pages.Gallery;

/// <summary>
/// The images picked in a grid: a click toggles one, a shift-click sets everything from the last click to this one the
/// way the last click left it (as in file managers), and "select all" means every image the filter matches, also the
/// ones not loaded yet (the server resolves them when the action runs). A change of filter clears it.
/// </summary>
public sealed class ImageSelection
{
    private readonly HashSet<Guid> picked = [];
    private Guid? anchor;

    /// <summary>Every image the current filter matches, loaded or not.</summary>
    public bool AllInFilter { get; private set; }

    public bool Any => AllInFilter || picked.Count > 0;

    /// <summary>The picked images (empty when <see cref="AllInFilter"/>: the filter says which).</summary>
    public IReadOnlyCollection<Guid> Ids => picked;

    public bool IsSelected(Guid id) => AllInFilter || picked.Contains(id);

    /// <summary>A click on <paramref name="id"/>'s box in <paramref name="items"/> (in their order on screen), with or without shift.</summary>
    public void Click(IReadOnlyList<GalleryItem> items, Guid id, bool shift)
    {
        if (AllInFilter)
        {
            // Narrowing "all" down starts from what is on screen.
            AllInFilter = false;
            picked.UnionWith(items.Select(i => i.Id));
        }

        var index = IndexOf(items, id);
        var from = anchor is { } last ? IndexOf(items, last) : -1;
        if (shift && from >= 0 && index >= 0)
        {
            var select = picked.Contains(items[from].Id);
            foreach (var item in items.Skip(Math.Min(from, index)).Take(Math.Abs(index - from) + 1))
            {
                _ = select ? picked.Add(item.Id) : picked.Remove(item.Id);
            }
        }
        else if (!picked.Remove(id))
        {
            picked.Add(id);
        }

        anchor = id;
    }

    public void SelectAllInFilter()
    {
        AllInFilter = true;
        picked.Clear();
        anchor = null;
    }

    public void Clear()
    {
        AllInFilter = false;
        picked.Clear();
        anchor = null;
    }

    /// <summary>Images that went away (deleted) leave the selection.</summary>
    public void Forget(IEnumerable<Guid> ids) => picked.ExceptWith(ids);

    /// <summary>How the bar says it: "3 selected" or "All in this filter".</summary>
    public string Describe() => AllInFilter ? "All images in this view selected" : picked.Count == 1 ? "1 image selected" : $"{picked.Count} images selected";

    private static int IndexOf(IReadOnlyList<GalleryItem> items, Guid id)
    {
        for (var i = 0; i < items.Count; i++)
        {
            if (items[i].Id == id)
            {
                return i;
            }
        }

        return -1;
    }
}
