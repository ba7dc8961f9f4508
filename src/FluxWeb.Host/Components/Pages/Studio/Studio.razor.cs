using System.Globalization;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Models;
using FluxWeb.Domain.Generation;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.JSInterop;
using MudBlazor;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>
/// The Studio: the form designers iterate with, their queue and their results. It shows a
/// <see cref="StudioSession"/>, which owns the application calls and the state; the page adds what
/// only a page has: the dialogs, the address (deep links from the Gallery: <c>?settings=</c>,
/// <c>?reference=</c>, <c>?edit=</c>, handled once the circuit is live and then dropped from the
/// address) and the mask canvas in the browser.
/// </summary>
public sealed partial class Studio : IStudioView, IAsyncDisposable
{
    public const string ModulePath = "./js/studio.js";

    private MaskEditor? maskEditor;
    private IJSObjectReference? module;
    private string? savedDraft;
    private string? favicon;
    private Guid? newestSeen;
    private bool resultsSeen;

    // "on", "off", "blocked" (the browser refused), "unsupported"; null until the browser said.
    private string? notifications;
    private StudioLink? pendingLink;
    private StudioLink? handledLink;

    [Inject]
    private StudioSession Session { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [Inject]
    private IJSRuntime JS { get; set; } = default!;

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

    // A masked edit widens the panel, so the canvas is not cramped.
    private string StudioClass => Form.Source is null ? "fw-studio" : "fw-studio fw-studio-editing";

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
        if (!RendererInfo.IsInteractive || Session.Actor is not { } actor)
        {
            return;
        }

        await TellTheBrowserAsync();
        if (!Session.Draft.Restored)
        {
            // The form this browser kept comes back first, so a link then asks before replacing it.
            await Session.RestoreAsync(SavedStudioForm.Parse(await CallAsync<string?>("load", DraftKey(actor))));
            StateHasChanged();
        }
        else
        {
            await SaveDraftAsync(actor);
        }

        // Links are followed by the live circuit only (the prerendered page is thrown away), once each.
        if (pendingLink is null || pendingLink == handledLink)
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

    // Guidance blends v_negative + g·(v_prompt − v_negative): at 1 the negative side cancels out.
    private static string NegativePromptHint(float? guidance) => guidance is 1f
        ? "What to keep out of the picture. At guidance 1 it has no effect: raise the guidance to use it."
        : "What to keep out of the picture, e.g. \"blurry, text, watermark\".";

    private void OnWidthChanged(int? width) => Session.Change(f => f.Width = width);

    private void OnHeightChanged(int? height) => Session.Change(f => f.Height = height);

    private void OnSeedTextChanged(string? text) => Session.Change(f => f.SeedText = text ?? "");

    private void OnCountChanged(int? count) => Session.Change(f => f.Count = count);

    private void OnStepsChanged(int? steps) => Session.Change(f => f.Steps = steps);

    private void OnGuidanceChanged(float? guidance) => Session.Change(f => f.Guidance = guidance);

    private void OnNegativePromptChanged(string? text) => Session.Change(f => f.NegativePrompt = text ?? "");

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

    private string NotifyText => notifications switch
    {
        "on" => "Notifications on: a job that finishes while this tab is hidden says so. Click to turn off.",
        "blocked" => "The browser blocks notifications from this site; allow them in its site settings.",
        _ => "Notify me when a job finishes while this tab is hidden",
    };

    /// <summary>
    /// The tab's icon follows the running job, and a result that arrives while the tab is hidden is
    /// announced (when the person turned that on); each only when something changed.
    /// </summary>
    private async Task TellTheBrowserAsync()
    {
        notifications ??= await CallAsync<string?>("notificationState") ?? "unsupported";
        if (Session.FaviconState != favicon)
        {
            favicon = Session.FaviconState;
            await CallAsync<bool>("setFavicon", favicon);
        }

        if (Session.Results is not { } results)
        {
            return;
        }

        var newest = results.Count > 0 ? results[0] : null;
        var announce = resultsSeen && newest is not null && newest.Id != newestSeen && notifications == "on";
        // Marked seen before the call: renders that come while it is awaited run this method again, and each announced
        // the same result (four notifications for one image on a busy machine).
        (resultsSeen, newestSeen) = (true, newest?.Id);
        if (announce)
        {
            await CallAsync<bool>("notifyIfHidden", "FluxWeb: your image is done", newest!.Prompt, Navigation.Rooted($"{newest.OutputUrl}/thumbnail"));
        }
    }

    private async Task ToggleNotificationsAsync()
    {
        notifications = await CallAsync<string?>(notifications == "on" ? "disableNotifications" : "enableNotifications") ?? notifications;
    }

    private Task GenerateWhatFitsAsync() => Session.GenerateWhatFitsAsync(maskEditor);

    /// <summary>One entry per user in the browser's local storage: another account signing in on the same browser starts with its own.</summary>
    private static string DraftKey(JobActor actor) => $"fluxweb.studio.draft.{actor.UserId}";

    /// <summary>Keeps the form in the browser whenever it changed since it was last kept (every render looks; most find nothing new).</summary>
    private async Task SaveDraftAsync(JobActor actor)
    {
        var json = SavedStudioForm.From(Form).ToJson();
        if (json == savedDraft)
        {
            return;
        }

        savedDraft = json;
        await CallAsync<bool>("save", DraftKey(actor), json);
    }

    private async Task<T?> CallAsync<T>(string function, params object?[] args)
    {
        try
        {
            module ??= await JS.InvokeAsync<IJSObjectReference>("import", ModulePath);
            return await module.InvokeAsync<T>(function, args);
        }
        catch (JSDisconnectedException)
        {
            // The tab went away; there is nothing to keep or read.
            return default;
        }
    }

    /// <summary>The progress chip brings the stage into view (on a phone it is below the form).</summary>
    private async Task ShowStageAsync()
    {
        Session.FollowLiveJob();
        await CallAsync<bool>("showStage");
    }

    public async ValueTask DisposeAsync()
    {
        Session.Close(this);
        if (module is not null)
        {
            try
            {
                await module.DisposeAsync();
            }
            catch (JSDisconnectedException)
            {
                // The circuit is gone and the module with it.
            }
        }
    }
}
