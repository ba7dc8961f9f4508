using System.Globalization;
using MudBlazor;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// What the loop (<see cref="StudioLoop"/>) needs from the session (its notice, whether a Studio page shows it now),
/// and the masked edit's set-aside references.
/// </summary>
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

    /// <summary>Uses the references that were set aside when the masked edit began, as far as they fit beside its source.</summary>
    public void KeepSetAsideReferences()
    {
        var waiting = Form.SetAsideReferences.Count;
        var kept = Form.KeepSetAsideReferences(limits);
        Revalidate();
        if (kept < waiting)
        {
            snackbar.Add(string.Create(CultureInfo.InvariantCulture,
                $"{kept} of {waiting} reference pictures fit beside the picture being edited (at most {limits.MaxReferences} input pictures)."), Severity.Warning);
        }
    }
}
