namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>What the loop (<see cref="StudioLoop"/>) needs from the session: its notice, and whether a Studio page shows it now.</summary>
public sealed partial class StudioSession
{
    /// <summary>Whether a Studio page is open on this circuit (its results follow new jobs).</summary>
    public bool IsShowing => view is not null;

    /// <summary>
    /// Shows <paramref name="notice"/> where the Studio shows its refusals; the page is asked to render, since the
    /// click came from a component of its own (a result's buttons, the lightbox) that re-renders only itself.
    /// </summary>
    public Task ShowNoticeAsync(StudioNotice notice)
    {
        Notice = notice;
        return view?.UpdateAsync(() => Task.CompletedTask) ?? Task.CompletedTask;
    }
}
