using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Models;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Host.Endpoints;
using FluxWeb.Provenance.Decoding;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.Options;
using MudBlazor;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>A message above the form: a refusal, a problem with a link, or what a link just did.</summary>
public sealed record StudioNotice(Severity Severity, string Title, string Message, string Kind);

/// <summary>What the session needs from the page showing it: questions to the person, and a way to change state on the circuit.</summary>
public interface IStudioView
{
    /// <summary>Whether this is the live circuit (a prerendered page is thrown away and follows nothing).</summary>
    bool IsLive { get; }

    /// <summary>Asks the person; true when they chose <paramref name="yes"/>.</summary>
    Task<bool> ConfirmAsync(string title, string message, string yes, string no);

    /// <summary>Runs <paramref name="change"/> on the circuit, then shows the result; a failure is the circuit's, never the caller's.</summary>
    Task UpdateAsync(Func<Task> change);
}

/// <summary>The mask painted in the browser, sent from there to the mask endpoint (the bytes never cross the circuit).</summary>
public interface IMaskCanvas
{
    Task<bool> HasPaintAsync();

    /// <summary>The endpoint's JSON answer; <see cref="MaskUploadException"/> with a message for the person when refused.</summary>
    Task<string> UploadMaskAsync(string uploadUrl, CancellationToken cancellationToken = default);
}

/// <summary>
/// The Studio of one circuit (a scoped service, as eShop's <c>BasketState</c>): every application call
/// the page makes and every piece of its state, so the page only shows it. The form itself lives in
/// <see cref="StudioDraft"/> and survives visits to other pages; the rest (notice, validation, history,
/// results, the live subscription) starts again at each <see cref="OpenAsync"/>. Validation changes on
/// the changes and the submission that call <see cref="Revalidate"/>, never while rendering.
/// Submission goes through <see cref="GenerationService.SubmitAsync"/> (channel "ui"). Every image a link or
/// a result names goes through <see cref="ImageAccess"/> first (<see cref="UsableInputAsync"/>, the one licence
/// check for inputs), settings included: a commercial account gets the licence's refusal for a
/// non-commercial model's image, not its prompt and seed.
/// </summary>
public sealed partial class StudioSession(
    StudioDraft draft,
    GenerationService generation,
    JobService jobs,
    IJobEvents events,
    JobSettingsReader settingsReader,
    ModelAccessService models,
    ImageAccess images,
    GenerationLimits limits,
    IOptions<ImageDecodingOptions> decoding,
    ISnackbar snackbar) : IDisposable
{
    public const int HistoryShown = 20;
    public const int ResultsShown = 12;
    public const string CustomSizeKey = "custom";
    public const string FromReferenceKey = "reference";

    private static readonly IReadOnlyDictionary<string, string> NoErrors = new Dictionary<string, string>();

    private readonly List<string> history = [];
    private int historyIndex = -1;
    private List<JobView>? results;
    private IStudioView? view;
    private IDisposable? subscription;

    public StudioDraft Draft => draft;

    public StudioForm Form => draft.Form;

    public GenerationLimits Limits => limits;

    public long MaxUploadBytes => decoding.Value.MaxBytes;

    public IReadOnlyList<SizePreset> Presets { get; } = SizePreset.Within(limits);

    /// <summary>The signed-in person, once opened; null for an anonymous page (which offers nothing).</summary>
    public JobActor? Actor { get; private set; }

    /// <summary>Installed models as this account sees them (usable or not, and why); null until loaded.</summary>
    public IReadOnlyList<ModelChoice>? Choices { get; private set; }

    public ModelChoice? SelectedModel => Find(Form.ModelId);

    public IReadOnlyList<ModelChoice> UnavailableModels => Choices?.Where(c => !c.Allowed).ToList() ?? [];

    public ulong? LastSeed { get; private set; }

    public StudioNotice? Notice { get; private set; }

    /// <summary>Every problem with the form, by field, as of the last change.</summary>
    public IReadOnlyDictionary<string, string> Errors { get; private set; } = NoErrors;

    /// <summary>Whether Generate was pressed since the last accepted submission (the empty prompt is only shown as a problem then).</summary>
    public bool Attempted { get; private set; }

    public bool Submitting { get; private set; }

    /// <summary>Earlier prompts, newest first, without repeats.</summary>
    public IReadOnlyList<string> History => history;

    /// <summary>Finished images, newest first, as they finish; null until loaded.</summary>
    public IReadOnlyList<JobView>? Results => results;

    public string GenerateText => (Form.Count ?? 1) > 1 ? $"Generate {Form.Count} images" : Form.Source is null ? "Generate" : "Generate the edit";

    public string PresetKey => Form.UsesReferenceSize ? FromReferenceKey
        : Presets.FirstOrDefault(p => p.Width == Form.Width && p.Height == Form.Height) is { } preset ? Key(preset) : CustomSizeKey;

    public static string Key(SizePreset preset) => string.Create(CultureInfo.InvariantCulture, $"{preset.Width}x{preset.Height}");

    /// <summary>
    /// A visit of the Studio begins: the models this account may use, a fitting size for a fresh form,
    /// earlier prompts, the latest seed and results; on the live circuit, the person's job events from
    /// now on (subscribed before reading, so a job that finishes in between is not missed; jobs queued
    /// or running before are followed the same way, so a reload reattaches to them).
    /// </summary>
    public async Task OpenAsync(JobActor? actor, IStudioView studioView)
    {
        Close(view);
        view = studioView;
        Actor = actor;
        (Notice, Attempted, Submitting, historyIndex, results, LastSeed) = (null, false, false, -1, null, null);
        history.Clear();
        if (actor is null)
        {
            Choices = [];
            results = [];
            Revalidate();
            return;
        }

        if (studioView.IsLive)
        {
            subscription = events.Subscribe(actor, jobEvent => OnJobEvent(studioView, jobEvent));
        }

        Choices = await models.ChoicesAsync(actor.UserId);
        if (SelectedModel is not { Allowed: true } && Choices.FirstOrDefault(c => c.Allowed) is { } first)
        {
            Form.ChooseModel(first);
        }

        if (!draft.HasBeenLoaded)
        {
            if (!limits.Fits(Form.Width ?? 0, Form.Height ?? 0) && Presets.Count > 0)
            {
                Form.ChooseSize(Presets[0]);
            }

            draft.MarkLoaded();
        }

        var mine = await jobs.ListMineAsync(actor, JobService.MaxListed);
        history.AddRange(mine.OrderByDescending(j => j.EnqueuedUtc).Select(j => j.Prompt).Distinct(StringComparer.Ordinal));
        var succeeded = mine.Where(j => j.State == JobState.Succeeded).OrderByDescending(j => j.FinishedUtc).ToList();
        LastSeed ??= succeeded.Select(j => (ulong?)j.Seed).FirstOrDefault();
        var finished = succeeded.Where(j => j.OutputUrl is not null).ToList();
        // Results an event added while the list was read stay.
        results = results is null ? [.. finished.Take(ResultsShown)] : [.. results.UnionBy(finished, j => j.Id).OrderByDescending(j => j.FinishedUtc).Take(ResultsShown)];
        Revalidate();
    }

    /// <summary>The visit of <paramref name="closing"/> ends (the page went away); a later visit's subscription is left alone.</summary>
    public void Close(IStudioView? closing)
    {
        if (closing is null || !ReferenceEquals(view, closing))
        {
            return;
        }

        subscription?.Dispose();
        subscription = null;
        view = null;
    }

    public void Dispose() => Close(view);

    // ---- Validation --------------------------------------------------------------------------

    /// <summary>Checks the form again; every change below ends with it, and so must a change made to <see cref="Form"/> directly.</summary>
    public void Revalidate() => Errors = Form.Validate(SelectedModel, limits, LastSeed);

    /// <summary>Prompt, model and mask problems wait for Generate; the others show as soon as they exist.</summary>
    public bool ShowError(string field) =>
        Errors.ContainsKey(field) && (Attempted || field is not (StudioField.Prompt or StudioField.Model or StudioField.Mask));

    public string? ErrorFor(string field) => Errors.GetValueOrDefault(field);

    public string? VisibleError(string field) => ShowError(field) ? ErrorFor(field) : null;

    public void DismissNotice() => Notice = null;

    /// <summary>Any other change of the form's fields.</summary>
    public void Change(Action<StudioForm> change)
    {
        change(Form);
        Revalidate();
    }

    // ---- Prompt ------------------------------------------------------------------------------

    public void SetPrompt(string? value)
    {
        Form.Prompt = value ?? "";
        if (historyIndex >= 0 && !string.Equals(Form.Prompt, history.ElementAtOrDefault(historyIndex), StringComparison.Ordinal))
        {
            historyIndex = -1;
        }

        Revalidate();
    }

    /// <summary>↑ in an empty prompt (or on a recalled one) steps back through earlier prompts, ↓ forward, like a shell.</summary>
    public void PromptKeyDown(KeyboardEventArgs e)
    {
        if (e.CtrlKey || e.MetaKey || e.AltKey || e.ShiftKey || history.Count == 0)
        {
            return;
        }

        var onRecalled = historyIndex >= 0 && string.Equals(Form.Prompt, history[historyIndex], StringComparison.Ordinal);
        if (e.Key == "ArrowUp" && (onRecalled || string.IsNullOrEmpty(Form.Prompt)) && historyIndex < history.Count - 1)
        {
            historyIndex = onRecalled ? historyIndex + 1 : 0;
            Form.Prompt = history[historyIndex];
        }
        else if (e.Key == "ArrowDown" && onRecalled)
        {
            historyIndex--;
            Form.Prompt = historyIndex >= 0 ? history[historyIndex] : "";
        }

        Revalidate();
    }

    public void UseEarlierPrompt(string prompt)
    {
        Form.Prompt = prompt;
        historyIndex = history.IndexOf(prompt);
        Revalidate();
    }

    // ---- Model, size, seed -------------------------------------------------------------------

    public string ModelText(string? id) => Find(id)?.Label ?? id ?? "";

    /// <summary>Selects an installed model this account may use; a refused one changes nothing.</summary>
    public void ChooseModel(string? id)
    {
        if (Find(id) is { Allowed: true } model)
        {
            Form.ChooseModel(model);
        }

        Revalidate();
    }

    public void ChoosePreset(string? key)
    {
        if (key == FromReferenceKey)
        {
            Form.SizeFromReference = Form.References.Count > 0;
        }
        else if (Presets.FirstOrDefault(p => Key(p) == key) is { } preset)
        {
            Form.ChooseSize(preset);
        }
        else
        {
            Form.SizeFromReference = false;
        }

        Revalidate();
    }

    public void SetSeedMode(SeedMode mode)
    {
        Form.SeedMode = mode;
        if (mode == SeedMode.Locked && string.IsNullOrWhiteSpace(Form.SeedText))
        {
            Form.SeedText = (LastSeed ?? RandomSeed()).ToString(CultureInfo.InvariantCulture);
        }

        Revalidate();
    }

    public void PickRandomSeed() => Change(f => f.SeedText = RandomSeed().ToString(CultureInfo.InvariantCulture));

    private static ulong RandomSeed() => BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(sizeof(ulong)));

    public void MaskChanged(MaskState state) => Change(f => f.MaskPainted = state.Painted);

    // ---- Generate ----------------------------------------------------------------------------

    /// <summary>
    /// Checks the form and submits it; a masked edit's mask goes from <paramref name="mask"/> (the browser)
    /// to the mask endpoint first. Problems and refusals (quota, licence, anything else) become the
    /// <see cref="Notice"/>; true when jobs were queued.
    /// </summary>
    public async Task<bool> GenerateAsync(IMaskCanvas? mask)
    {
        if (Submitting || Actor is null || Choices is null)
        {
            return false;
        }

        Attempted = true;
        Revalidate();
        var model = SelectedModel;
        if (Errors.Count > 0)
        {
            Notice = new StudioNotice(Severity.Warning, "Check the form:", Errors.Values.First(), "validation");
            return false;
        }

        Submitting = true;
        Notice = null;
        try
        {
            Guid? maskId = null;
            if (Form.Source is not null)
            {
                maskId = await UploadMaskAsync(mask);
                if (maskId is null)
                {
                    return false;
                }
            }

            var result = await generation.SubmitAsync(Actor.UserId, Form.ToRequest(model!, LastSeed, maskId));
            if (!result.Accepted)
            {
                Notice = result switch
                {
                    { Refusal: { } quota } => new StudioNotice(Severity.Warning, "Quota reached.", quota.Message, "quota"),
                    { LicenceRefused: true } => new StudioNotice(Severity.Error, "Not allowed by the licence.", result.Error!, "licence"),
                    _ => new StudioNotice(Severity.Error, "Not queued:", result.Error!, "refused"),
                };
                return false;
            }

            RememberPrompt(Form.Prompt.Trim());
            Attempted = false;
            var seeds = result.JobIds.Count == 1
                ? string.Create(CultureInfo.InvariantCulture, $"seed {result.Seed}")
                : string.Create(CultureInfo.InvariantCulture, $"seeds {result.Seed}–{unchecked(result.Seed + (ulong)(result.JobIds.Count - 1))}");
            snackbar.Add(result.JobIds.Count == 1 ? $"Queued 1 image ({seeds})." : $"Queued {result.JobIds.Count} images ({seeds}).", Severity.Success);
            return true;
        }
        finally
        {
            Submitting = false;
            Revalidate();
        }
    }

    /// <summary>The mask goes from the browser to the mask endpoint once per request; only its id comes back.</summary>
    private async Task<Guid?> UploadMaskAsync(IMaskCanvas? mask)
    {
        if (mask is null || !await mask.HasPaintAsync())
        {
            Form.MaskPainted = false;
            Notice = new StudioNotice(Severity.Warning, "Check the form:", "Paint over the part of the picture that should change.", "validation");
            return null;
        }

        try
        {
            var json = await mask.UploadMaskAsync(MaskUploadEndpoints.CollectionPath);
            var saved = JsonSerializer.Deserialize<MaskUploadResponse>(json, JsonSerializerOptions.Web);
            return saved is not null && Guid.TryParse(saved.Id, out var id) ? id : throw new MaskUploadException("The server's answer named no mask.");
        }
        catch (MaskUploadException refused)
        {
            Notice = new StudioNotice(Severity.Error, "The mask was not saved.", refused.Message, "mask");
            return null;
        }
    }

    private void RememberPrompt(string prompt)
    {
        history.Remove(prompt);
        history.Insert(0, prompt);
        historyIndex = -1;
    }

    // ---- Results, live -----------------------------------------------------------------------

    private void OnJobEvent(IStudioView to, JobEvent jobEvent)
    {
        if (jobEvent.Kind == JobEventKind.Succeeded)
        {
            _ = to.UpdateAsync(() => AddResultAsync(jobEvent.JobId));
        }
    }

    private async Task AddResultAsync(Guid jobId)
    {
        if (Actor is null || await jobs.GetAsync(Actor, jobId) is not { State: JobState.Succeeded, OutputUrl: not null } job)
        {
            return;
        }

        results ??= [];
        results.RemoveAll(r => r.Id == job.Id);
        results.Insert(0, job);
        if (results.Count > ResultsShown)
        {
            results.RemoveRange(ResultsShown, results.Count - ResultsShown);
        }

        LastSeed = job.Seed;
        Revalidate();
    }

    public void LockSeedOf(JobView job)
    {
        Form.SeedMode = SeedMode.Locked;
        Form.SeedText = job.Seed.ToString(CultureInfo.InvariantCulture);
        Revalidate();
        snackbar.Add($"Seed {Form.SeedText} locked.", Severity.Info);
    }

    public Task UseResultAsReferenceAsync(JobView job) => job.OutputImageId is { } id ? AddReferenceAsync(id) : Task.CompletedTask;

    public Task EditResultAsync(JobView job) => job.OutputImageId is { } id ? EditAsync(id) : Task.CompletedTask;

    public Task UseSettingsOfResultAsync(JobView job) => job.OutputImageId is { } id ? UseSettingsAsync(id) : Task.CompletedTask;

    // ---- Deep links and inputs ---------------------------------------------------------------

    /// <summary>Follows a Gallery link (<c>?settings=</c>, <c>?reference=</c>, <c>?edit=</c>); what it did or why not becomes the notice.</summary>
    public async Task FollowAsync(StudioLink link)
    {
        if (Actor is null)
        {
            return;
        }

        if (link.ImageId is not { } imageId)
        {
            Notice = new StudioNotice(Severity.Warning, "That link does not work:", "it does not name an image. Open the image from the Gallery again.", "link");
            return;
        }

        switch (link.Kind)
        {
            case StudioLinkKind.Settings:
                await UseSettingsAsync(imageId);
                break;
            case StudioLinkKind.Reference:
                await AddReferenceAsync(imageId);
                break;
            case StudioLinkKind.Edit:
                await EditAsync(imageId);
                break;
        }
    }

    /// <summary>
    /// The one licence check for the Studio's inputs: the person's own picture, of a kind the role
    /// takes, allowed as input under the account's licence as it is now. Administrators are not exempt
    /// (<see cref="ImageAccess.InputAsync"/>): what they make lands in their own account.
    /// </summary>
    private async Task<ImageAccessResult> UsableInputAsync(Guid imageId, InputRole role) => await images.InputAsync(Actor!.UserId, imageId, role);

    /// <summary>The input as the form holds it, or null and a notice saying why not.</summary>
    private async Task<StudioImage?> InputOrNoticeAsync(Guid imageId, string use, InputRole role)
    {
        var input = await UsableInputAsync(imageId, role);
        Notice = input.Outcome switch
        {
            ImageAccessOutcome.Allowed => Notice,
            ImageAccessOutcome.LicenceRefused => new StudioNotice(Severity.Error, $"Cannot {use}:", input.Reason ?? "the licence of the model that made it does not allow it for this account.", "licence"),
            ImageAccessOutcome.WrongKind => new StudioNotice(Severity.Warning, $"Cannot {use}:", input.Reason!, "wrong-kind"),
            _ => new StudioNotice(Severity.Warning, $"Cannot {use}:", "that image is not one of yours, or it no longer exists.", "not-found"),
        };
        return input is { Allowed: true, Image: { } row } ? ToStudioImage(row) : null;
    }

    public async Task AddReferenceAsync(Guid imageId)
    {
        if (Form.References.Any(r => r.Id == imageId))
        {
            snackbar.Add("That image is already a reference.", Severity.Info);
            return;
        }

        if (await InputOrNoticeAsync(imageId, "use it as a reference", InputRole.Reference) is not { } reference)
        {
            return;
        }

        if (Form.FreeReferenceSlots(limits) == 0)
        {
            Notice = new StudioNotice(Severity.Warning, "No room for another reference:",
                string.Create(CultureInfo.InvariantCulture, $"at most {limits.MaxReferences} pictures, and a masked edit's source counts as one. Remove one first."), "references-full");
            return;
        }

        Form.References.Add(reference);
        Revalidate();
        snackbar.Add(string.Create(CultureInfo.InvariantCulture, $"Added as reference {Form.References.Count}."), Severity.Success);
    }

    public async Task EditAsync(Guid imageId)
    {
        if (Form.Source?.Id == imageId)
        {
            return;
        }

        if (await InputOrNoticeAsync(imageId, "edit it", InputRole.Source) is not { } source)
        {
            return;
        }

        // The form's references are set aside when a masked edit begins, so only a server that takes no input pictures refuses.
        if (Form.Source is null && limits.MaxReferences == 0)
        {
            Notice = new StudioNotice(Severity.Warning, "No room for a picture to edit:",
                string.Create(CultureInfo.InvariantCulture, $"its source counts as one of the {limits.MaxReferences} input pictures. Remove a reference first."), "references-full");
            return;
        }

        if (Form.Source is not null && Form.MaskPainted
            && !await AskAsync("Edit another picture?", "The mask you painted on the current picture will be lost.", "Edit the new one", "Keep painting"))
        {
            return;
        }

        Form.SetSource(source, limits);
        Revalidate();
        snackbar.Add(Form.SetAsideReferences.Count > 0
            ? "Paint over what should change, then generate. Your reference pictures are set aside for this edit."
            : "Paint over what should change, then generate.", Severity.Info);
    }

    public void StopMaskedEdit() => Change(f => f.SetSource(null, limits));

    /// <summary>How many of <paramref name="count"/> dropped pictures may become the source (one, when an input slot is free).</summary>
    public int ReserveSource(int count)
    {
        if (limits.MaxReferences == 0)
        {
            Notice = new StudioNotice(Severity.Warning, "No room for a picture to edit:", "remove a reference first.", "references-full");
            return 0;
        }

        return Math.Min(count, 1);
    }

    public void UseUploadedSource(StudioImage image) => Change(f => f.SetSource(image, limits));

    public void ShowUploadProblem(string message) => Notice = new StudioNotice(Severity.Warning, "Picture not added:", message, "upload");

    /// <summary>
    /// Fills the form from an earlier image. An edited form is only replaced after the person says so;
    /// inputs that are gone, not theirs, or not allowed by the licence are left out, and the notice says so.
    /// </summary>
    public async Task UseSettingsAsync(Guid imageId)
    {
        var found = await settingsReader.ForImageAsync(Actor!, imageId);
        if (found.LicenceRefusal is { } refusal)
        {
            Notice = new StudioNotice(Severity.Error, "Cannot use those settings:", refusal, "licence");
            return;
        }

        if (found.Settings is not { } made)
        {
            Notice = new StudioNotice(Severity.Warning, "Cannot use those settings:", "the image was not found, or it was not generated here.", "not-found");
            return;
        }

        if (draft.IsEdited
            && !await AskAsync(
                "Replace your current settings?",
                "The form has changes of yours. Loading that image's settings replaces its prompt, model, size, seed and references.",
                "Replace",
                "Keep mine"))
        {
            snackbar.Add("Your settings were kept.", Severity.Info);
            return;
        }

        var settings = made.Settings;
        var left = new List<string>();
        var model = Find(settings.ModelId);
        if (model is not { Allowed: true })
        {
            left.Add(model is null ? $"its model {settings.ModelId} is not installed any more" : $"its model is not available to you ({model.Reason})");
            model = null;
        }

        var references = new List<StudioImage>();
        foreach (var id in settings.ReferenceImageIds.Take(limits.MaxReferences))
        {
            if (await UsableInputAsync(id, InputRole.Reference) is { Allowed: true, Image: { } row })
            {
                references.Add(ToStudioImage(row));
            }
        }

        if (references.Count < settings.ReferenceImageIds.Count)
        {
            left.Add(string.Create(CultureInfo.InvariantCulture, $"{settings.ReferenceImageIds.Count - references.Count} of its reference pictures are not available"));
        }

        var source = settings.SourceImageId is { } sourceId && await UsableInputAsync(sourceId, InputRole.Source) is { Allowed: true, Image: { } sourceRow }
            ? ToStudioImage(sourceRow)
            : null;
        if (settings.SourceImageId is not null && source is null)
        {
            left.Add("its source picture is not available");
        }
        else if (source is not null && references.Count >= limits.MaxReferences)
        {
            references.RemoveAt(references.Count - 1);
        }

        // A masked edit's mask comes back with it (the same door as every input: the owner's, a mask, allowed).
        var restoredMask = source is not null && settings.MaskImageId is { } maskId && await UsableInputAsync(maskId, InputRole.Mask) is { Allowed: true }
            ? maskId
            : (Guid?)null;
        if (source is not null && settings.MaskImageId is not null && restoredMask is null)
        {
            left.Add("its mask is not available");
        }

        Form.Apply(made, model, references, source, restoredMask);
        draft.MarkLoaded();
        historyIndex = -1;
        Revalidate();
        var message = source is null ? "Prompt, size, seed and references are in the form."
            : restoredMask is not null ? "The picture and its mask are back: change the mask or generate."
            : "Paint the mask again, then generate.";
        Notice = left.Count == 0
            ? new StudioNotice(Severity.Success, "Settings loaded.", message, "settings")
            : new StudioNotice(Severity.Info, "Settings loaded,", $"except that {string.Join("; ", left)}. {message}", "settings");
    }

    private Task<bool> AskAsync(string title, string message, string yes, string no) =>
        view?.ConfirmAsync(title, message, yes, no) ?? Task.FromResult(false);

    private ModelChoice? Find(string? id) => Choices?.FirstOrDefault(c => string.Equals(c.Id, id, StringComparison.Ordinal));

    private static StudioImage ToStudioImage(StoredImage row) =>
        new(row.Id, row.Width, row.Height, row.Kind == StoredImageKind.Output ? row.Prompt : null);
}

public enum StudioLinkKind
{
    Settings,
    Reference,
    Edit,
}

/// <summary>One deep link; <see cref="ImageId"/> is null when the link's value is not an id.</summary>
public sealed record StudioLink(StudioLinkKind Kind, string Value)
{
    public Guid? ImageId => Guid.TryParse(Value, out var id) ? id : null;

    public static StudioLink? From(string? settings, string? reference, string? edit) =>
        !string.IsNullOrWhiteSpace(settings) ? new(StudioLinkKind.Settings, settings)
        : !string.IsNullOrWhiteSpace(reference) ? new(StudioLinkKind.Reference, reference)
        : !string.IsNullOrWhiteSpace(edit) ? new(StudioLinkKind.Edit, edit)
        : null;
}
