using System.Globalization;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Models;
using FluxWeb.Domain.Generation;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Web;
using MudBlazor;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// The Studio: the form designers iterate with, their queue and their results. It shows a
/// <see cref="StudioSession"/>, which owns the application calls and the state; the page adds what
/// only a page has: the dialogs, the address (deep links from the Gallery: <c>?settings=</c>,
/// <c>?reference=</c>, <c>?edit=</c>, handled once the circuit is live and then dropped from the
/// address) and the mask canvas in the browser.
/// </summary>
public sealed partial class Studio : IStudioView, IDisposable
{
    private MaskEditor? maskEditor;
    private StudioLink? pendingLink;
    private StudioLink? handledLink;

    [Inject]
    private StudioSession Session { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    /// <summary>An image whose settings fill the form (after asking, when the form has edits).</summary>
    [SupplyParameterFromQuery(Name = "settings")]
    public string? SettingsImage { get; set; }

    /// <summary>An image to add as a reference.</summary>
    [SupplyParameterFromQuery(Name = "reference")]
    public string? ReferenceImage { get; set; }

    /// <summary>An image to open for a masked edit.</summary>
    [SupplyParameterFromQuery(Name = "edit")]
    public string? EditImage { get; set; }

    private StudioForm Form => Session.Form;

    private GenerationLimits Limits => Session.Limits;

    bool IStudioView.IsLive => RendererInfo.IsInteractive;

    protected override async Task OnInitializedAsync()
    {
        var actor = AuthenticationState is null ? null : JobActor.From((await AuthenticationState).User);
        await Session.OpenAsync(actor, this);
    }

    protected override void OnParametersSet()
    {
        pendingLink = StudioLink.From(SettingsImage, ReferenceImage, EditImage);
        if (pendingLink is null)
        {
            // Following a link ends by dropping it from the address; the same link may come again later.
            handledLink = null;
        }
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        // Links are followed by the live circuit only (the prerendered page is thrown away), once each.
        if (!RendererInfo.IsInteractive || pendingLink is null || pendingLink == handledLink || Session.Actor is null)
        {
            return;
        }

        var link = pendingLink;
        handledLink = link;
        await Session.FollowAsync(link);
        StateHasChanged();
        // The address loses the link, so a reload does not add the reference again.
        Navigation.NavigateTo("studio", replace: true);
    }

    async Task<bool> IStudioView.ConfirmAsync(string title, string message, string yes, string no) =>
        await Dialogs.ShowMessageBoxAsync(title, message, yesText: yes, cancelText: no) == true;

    async Task IStudioView.UpdateAsync(Func<Task> change)
    {
        try
        {
            await InvokeAsync(async () =>
            {
                await change();
                StateHasChanged();
            });
        }
        catch (Exception ex)
        {
            await DispatchExceptionAsync(ex);
        }
    }

    private static string Shorten(string prompt) => prompt.Length <= 80 ? prompt : string.Concat(prompt.AsSpan(0, 79), "…");

    private static string SamplingText(ModelChoice model)
    {
        var steps = model.Sampling.MinSteps == model.Sampling.MaxSteps
            ? string.Create(CultureInfo.InvariantCulture, $"{model.Sampling.MinSteps} steps (fixed)")
            : string.Create(CultureInfo.InvariantCulture, $"{model.Sampling.MinSteps}–{model.Sampling.MaxSteps} steps");
        return model.Sampling.UsesGuidance ? $"{model.Variant} · {steps} · guidance" : $"{model.Variant} · {steps} · no guidance";
    }

    private void OnWidthChanged(int? width) => Session.Change(f => f.Width = width);

    private void OnHeightChanged(int? height) => Session.Change(f => f.Height = height);

    private void OnSeedTextChanged(string? text) => Session.Change(f => f.SeedText = text ?? "");

    private void OnCountChanged(int? count) => Session.Change(f => f.Count = count);

    private void OnStepsChanged(int? steps) => Session.Change(f => f.Steps = steps);

    private void OnGuidanceChanged(float? guidance) => Session.Change(f => f.Guidance = guidance);

    private void OnStrengthChanged(double strength) => Session.Change(f => f.Strength = (float)Math.Round(strength, 2));

    private void OnFeatherChanged(bool feather) => Session.Change(f => f.Feather = feather);

    private async Task OnFormKeyDownAsync(KeyboardEventArgs e)
    {
        if (e.Key == "Enter" && (e.CtrlKey || e.MetaKey))
        {
            await GenerateAsync();
        }
    }

    private Task GenerateAsync() => Session.GenerateAsync(maskEditor);

    public void Dispose() => Session.Close(this);
}
