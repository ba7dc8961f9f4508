namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// The Studio's form for one circuit (a scoped service): it outlives the page, so a visit to the
/// Gallery and back, or a "use these settings" link, finds the person's own edits still there.
/// </summary>
public sealed class StudioDraft
{
    private StudioFormSnapshot? loaded;

    public StudioForm Form { get; } = new();

    /// <summary>Whether the person changed anything since the form was last filled (fresh or from an image's settings).</summary>
    public bool IsEdited => loaded is not null && Form.Snapshot() != loaded;

    public bool HasBeenLoaded => loaded is not null;

    /// <summary>Whether the form this browser kept from an earlier visit was looked for (once per circuit).</summary>
    public bool Restored { get; private set; }

    public void MarkRestored() => Restored = true;

    /// <summary>The form as it is now counts as "not edited".</summary>
    public void MarkLoaded() => loaded = Form.Snapshot();
}
