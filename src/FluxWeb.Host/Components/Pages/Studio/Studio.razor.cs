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
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.Options;
using MudBlazor;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>A message above the form: a refusal, a problem with a link, or what a link just did.</summary>
public sealed record StudioNotice(Severity Severity, string Title, string Message, string Kind);

/// <summary>
/// The Studio: the form designers iterate with, their queue and their results. Everything goes
/// through <see cref="GenerationService.SubmitAsync"/> (channel "ui"); pictures travel by URL and
/// uploads over HTTP. Deep links from the Gallery: <c>?settings=</c>, <c>?reference=</c>, <c>?edit=</c>
/// (image ids), handled once the circuit is live and then dropped from the address. Every image a
/// link names goes through <see cref="ImageAccess"/> first, settings included: a commercial account
/// gets the licence's refusal for a non-commercial model's image, not its prompt and seed.
/// </summary>
public sealed partial class Studio
{
    public const int HistoryShown = 20;
    private const string CustomKey = "custom";
    private const string FromReferenceKey = "reference";

    private readonly List<string> history = [];
    private IReadOnlyDictionary<string, string> errors = new Dictionary<string, string>();
    private IReadOnlyList<ModelChoice>? choices;
    private JobActor? actor;
    private ulong? lastSeed;
    private StudioNotice? notice;
    private MaskEditor? maskEditor;
    private bool attempted;
    private bool submitting;
    private int historyIndex = -1;
    private StudioLink? pendingLink;
    private StudioLink? handledLink;

    [Inject]
    private GenerationService Generation { get; set; } = default!;

    [Inject]
    private JobService Jobs { get; set; } = default!;

    [Inject]
    private JobSettingsReader SettingsReader { get; set; } = default!;

    [Inject]
    private ModelAccessService Models { get; set; } = default!;

    [Inject]
    private ImageAccess Images { get; set; } = default!;

    [Inject]
    private StudioDraft Draft { get; set; } = default!;

    [Inject]
    private GenerationLimits Limits { get; set; } = default!;

    [Inject]
    private IOptions<ImageDecodingOptions> DecodingOptions { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

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

    private StudioForm Form => Draft.Form;

    private IReadOnlyList<SizePreset> Presets { get; set; } = [];

    private ModelChoice? SelectedModel => choices?.FirstOrDefault(c => string.Equals(c.Id, Form.ModelId, StringComparison.Ordinal));

    private IReadOnlyList<ModelChoice> UnavailableModels => choices?.Where(c => !c.Allowed).ToList() ?? [];

    private string GenerateText => (Form.Count ?? 1) > 1 ? $"Generate {Form.Count} images" : Form.Source is null ? "Generate" : "Generate the edit";

    private string PresetKey => Form.UsesReferenceSize ? FromReferenceKey
        : Presets.FirstOrDefault(p => p.Width == Form.Width && p.Height == Form.Height) is { } preset ? Key(preset) : CustomKey;

    protected override async Task OnInitializedAsync()
    {
        Presets = SizePreset.Within(Limits);
        actor = AuthenticationState is null ? null : JobActor.From((await AuthenticationState).User);
        if (actor is null)
        {
            choices = [];
            return;
        }

        choices = await Models.ChoicesAsync(actor.UserId);
        if (SelectedModel is not { Allowed: true } && choices.FirstOrDefault(c => c.Allowed) is { } first)
        {
            Form.ChooseModel(first);
        }

        if (!Draft.HasBeenLoaded)
        {
            if (!Limits.Fits(Form.Width ?? 0, Form.Height ?? 0) && Presets.Count > 0)
            {
                Form.ChooseSize(Presets[0]);
            }

            Draft.MarkLoaded();
        }

        await LoadHistoryAsync();
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
        if (!RendererInfo.IsInteractive || pendingLink is null || pendingLink == handledLink || actor is null)
        {
            return;
        }

        var link = pendingLink;
        handledLink = link;
        await FollowAsync(link);
        StateHasChanged();
        // The address loses the link, so a reload does not add the reference again.
        Navigation.NavigateTo("studio", replace: true);
    }

    private async Task LoadHistoryAsync()
    {
        var jobs = await Jobs.ListMineAsync(actor!, JobService.MaxListed);
        history.Clear();
        history.AddRange(jobs.OrderByDescending(j => j.EnqueuedUtc).Select(j => j.Prompt).Distinct(StringComparer.Ordinal));
        lastSeed = jobs.Where(j => j.State == JobState.Succeeded).OrderByDescending(j => j.FinishedUtc).Select(j => (ulong?)j.Seed).FirstOrDefault();
    }

    // ---- Form fields -------------------------------------------------------------------------

    private bool ShowError(string field) =>
        errors.ContainsKey(field) && (attempted || field is not (StudioField.Prompt or StudioField.Model or StudioField.Mask));

    private string? ErrorFor(string field) => errors.GetValueOrDefault(field);

    private string? VisibleError(string field) => ShowError(field) ? ErrorFor(field) : null;

    private void OnPromptChanged(string? value)
    {
        Form.Prompt = value ?? "";
        if (historyIndex >= 0 && !string.Equals(Form.Prompt, history.ElementAtOrDefault(historyIndex), StringComparison.Ordinal))
        {
            historyIndex = -1;
        }
    }

    /// <summary>↑ in an empty prompt (or on a recalled one) steps back through earlier prompts, ↓ forward, like a shell.</summary>
    private void OnPromptKeyDown(KeyboardEventArgs e)
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
    }

    private void UseEarlierPrompt(string prompt)
    {
        Form.Prompt = prompt;
        historyIndex = history.IndexOf(prompt);
    }

    private static string Shorten(string prompt) => prompt.Length <= 80 ? prompt : string.Concat(prompt.AsSpan(0, 79), "…");

    private string ModelText(string? id) => choices?.FirstOrDefault(c => string.Equals(c.Id, id, StringComparison.Ordinal))?.Label ?? id ?? "";

    private void OnModelChanged(string? id)
    {
        if (choices?.FirstOrDefault(c => string.Equals(c.Id, id, StringComparison.Ordinal)) is { Allowed: true } model)
        {
            Form.ChooseModel(model);
        }
    }

    private static string SamplingText(ModelChoice model)
    {
        var steps = model.Sampling.MinSteps == model.Sampling.MaxSteps
            ? string.Create(CultureInfo.InvariantCulture, $"{model.Sampling.MinSteps} steps (fixed)")
            : string.Create(CultureInfo.InvariantCulture, $"{model.Sampling.MinSteps}–{model.Sampling.MaxSteps} steps");
        return model.Sampling.UsesGuidance ? $"{model.Variant} · {steps} · guidance" : $"{model.Variant} · {steps} · no guidance";
    }

    private static string Key(SizePreset preset) => string.Create(CultureInfo.InvariantCulture, $"{preset.Width}x{preset.Height}");

    private void OnPresetChanged(string? key)
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
    }

    private void OnWidthChanged(int? width) => Form.Width = width;

    private void OnHeightChanged(int? height) => Form.Height = height;

    private void OnSeedModeChanged(SeedMode mode)
    {
        Form.SeedMode = mode;
        if (mode == SeedMode.Locked && string.IsNullOrWhiteSpace(Form.SeedText))
        {
            Form.SeedText = (lastSeed ?? RandomSeed()).ToString(CultureInfo.InvariantCulture);
        }
    }

    private void OnSeedTextChanged(string? text) => Form.SeedText = text ?? "";

    private void PickRandomSeed() => Form.SeedText = RandomSeed().ToString(CultureInfo.InvariantCulture);

    private static ulong RandomSeed() => BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(sizeof(ulong)));

    private void OnCountChanged(int? count) => Form.Count = count;

    private void OnStepsChanged(int? steps) => Form.Steps = steps;

    private void OnGuidanceChanged(float? guidance) => Form.Guidance = guidance;

    private void OnStrengthChanged(double strength) => Form.Strength = (float)Math.Round(strength, 2);

    private void OnFeatherChanged(bool feather) => Form.Feather = feather;

    private void OnMaskChanged(MaskState state) => Form.MaskPainted = state.Painted;

    // ---- Generate ----------------------------------------------------------------------------

    private async Task OnFormKeyDownAsync(KeyboardEventArgs e)
    {
        if (e.Key == "Enter" && (e.CtrlKey || e.MetaKey))
        {
            await GenerateAsync();
        }
    }

    private async Task GenerateAsync()
    {
        if (submitting || actor is null || choices is null)
        {
            return;
        }

        attempted = true;
        var model = SelectedModel;
        var problems = Form.Validate(model, Limits, lastSeed);
        if (problems.Count > 0)
        {
            notice = new StudioNotice(Severity.Warning, "Check the form:", problems.Values.First(), "validation");
            return;
        }

        submitting = true;
        notice = null;
        try
        {
            Guid? maskId = null;
            if (Form.Source is not null)
            {
                maskId = await UploadMaskAsync();
                if (maskId is null)
                {
                    return;
                }
            }

            var result = await Generation.SubmitAsync(actor.UserId, Form.ToRequest(model!, lastSeed, maskId));
            if (!result.Accepted)
            {
                notice = result switch
                {
                    { Refusal: { } quota } => new StudioNotice(Severity.Warning, "Quota reached.", quota.Message, "quota"),
                    { LicenceRefused: true } => new StudioNotice(Severity.Error, "Not allowed by the licence.", result.Error!, "licence"),
                    _ => new StudioNotice(Severity.Error, "Not queued:", result.Error!, "refused"),
                };
                return;
            }

            RememberPrompt(Form.Prompt.Trim());
            attempted = false;
            var seeds = result.JobIds.Count == 1
                ? string.Create(CultureInfo.InvariantCulture, $"seed {result.Seed}")
                : string.Create(CultureInfo.InvariantCulture, $"seeds {result.Seed}–{unchecked(result.Seed + (ulong)(result.JobIds.Count - 1))}");
            Snackbar.Add(result.JobIds.Count == 1 ? $"Queued 1 image ({seeds})." : $"Queued {result.JobIds.Count} images ({seeds}).", Severity.Success);
        }
        finally
        {
            submitting = false;
        }
    }

    /// <summary>The mask goes from the browser to the mask endpoint once per request; only its id comes back.</summary>
    private async Task<Guid?> UploadMaskAsync()
    {
        if (maskEditor is null || !await maskEditor.HasPaintAsync())
        {
            Form.MaskPainted = false;
            notice = new StudioNotice(Severity.Warning, "Check the form:", "Paint over the part of the picture that should change.", "validation");
            return null;
        }

        try
        {
            var json = await maskEditor.UploadMaskAsync(MaskUploadEndpoints.CollectionPath);
            var saved = JsonSerializer.Deserialize<MaskUploadResponse>(json, JsonSerializerOptions.Web);
            return saved is not null && Guid.TryParse(saved.Id, out var id) ? id : throw new MaskUploadException("The server's answer named no mask.");
        }
        catch (MaskUploadException refused)
        {
            notice = new StudioNotice(Severity.Error, "The mask was not saved.", refused.Message, "mask");
            return null;
        }
    }

    private void RememberPrompt(string prompt)
    {
        history.Remove(prompt);
        history.Insert(0, prompt);
        historyIndex = -1;
    }

    // ---- Results and deep links --------------------------------------------------------------

    private void OnNewResult(JobView job) => lastSeed = job.Seed;

    private void LockSeedOf(JobView job)
    {
        Form.SeedMode = SeedMode.Locked;
        Form.SeedText = job.Seed.ToString(CultureInfo.InvariantCulture);
        Snackbar.Add($"Seed {Form.SeedText} locked.", Severity.Info);
    }

    private Task UseResultAsReferenceAsync(JobView job) => job.OutputImageId is { } id ? AddReferenceAsync(id) : Task.CompletedTask;

    private Task EditResultAsync(JobView job) => job.OutputImageId is { } id ? EditAsync(id) : Task.CompletedTask;

    private Task UseSettingsOfResultAsync(JobView job) => job.OutputImageId is { } id ? UseSettingsAsync(id) : Task.CompletedTask;

    private async Task FollowAsync(StudioLink link)
    {
        if (link.ImageId is not { } imageId)
        {
            notice = new StudioNotice(Severity.Warning, "That link does not work:", "it does not name an image. Open the image from the Gallery again.", "link");
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

    /// <summary>The user's own picture, if it may be an input under the account's licence; otherwise null and a notice saying why.</summary>
    private async Task<StoredImage?> UsableInputAsync(Guid imageId, string use, InputRole role)
    {
        var input = await Images.InputAsync(actor!.UserId, imageId, role);
        switch (input.Outcome)
        {
            case ImageAccessOutcome.Allowed:
                return input.Image;
            case ImageAccessOutcome.LicenceRefused:
                notice = new StudioNotice(Severity.Error, $"Cannot {use}:", input.Reason ?? "the licence of the model that made it does not allow it for this account.", "licence");
                return null;
            case ImageAccessOutcome.WrongKind:
                notice = new StudioNotice(Severity.Warning, $"Cannot {use}:", input.Reason!, "wrong-kind");
                return null;
            default:
                notice = new StudioNotice(Severity.Warning, $"Cannot {use}:", "that image is not one of yours, or it no longer exists.", "not-found");
                return null;
        }
    }

    private async Task AddReferenceAsync(Guid imageId)
    {
        if (Form.References.Any(r => r.Id == imageId))
        {
            Snackbar.Add("That image is already a reference.", Severity.Info);
            return;
        }

        if (await UsableInputAsync(imageId, "use it as a reference", InputRole.Reference) is not { } row)
        {
            return;
        }

        if (Form.FreeReferenceSlots(Limits) == 0)
        {
            notice = new StudioNotice(Severity.Warning, "No room for another reference:",
                string.Create(CultureInfo.InvariantCulture, $"at most {Limits.MaxReferences} pictures, and a masked edit's source counts as one. Remove one first."), "references-full");
            return;
        }

        Form.References.Add(ToStudioImage(row));
        Snackbar.Add(string.Create(CultureInfo.InvariantCulture, $"Added as reference {Form.References.Count}."), Severity.Success);
    }

    private async Task EditAsync(Guid imageId)
    {
        if (Form.Source?.Id == imageId)
        {
            return;
        }

        if (await UsableInputAsync(imageId, "edit it", InputRole.Source) is not { } row)
        {
            return;
        }

        if (Form.Source is null && Form.FreeReferenceSlots(Limits) == 0)
        {
            notice = new StudioNotice(Severity.Warning, "No room for a picture to edit:",
                string.Create(CultureInfo.InvariantCulture, $"its source counts as one of the {Limits.MaxReferences} input pictures. Remove a reference first."), "references-full");
            return;
        }

        if (Form.Source is not null && Form.MaskPainted
            && await Dialogs.ShowMessageBoxAsync("Edit another picture?", "The mask you painted on the current picture will be lost.", yesText: "Edit the new one", cancelText: "Keep painting") != true)
        {
            return;
        }

        Form.SetSource(ToStudioImage(row));
        Snackbar.Add("Paint over what should change, then generate.", Severity.Info);
    }

    private void StopMaskedEdit() => Form.SetSource(null);

    private int ReserveSource(int count)
    {
        if (Form.FreeReferenceSlots(Limits) == 0)
        {
            notice = new StudioNotice(Severity.Warning, "No room for a picture to edit:", "remove a reference first.", "references-full");
            return 0;
        }

        return Math.Min(count, 1);
    }

    private void UseUploadedSource(StudioImage image) => Form.SetSource(image);

    private void ShowUploadProblem(string message) => notice = new StudioNotice(Severity.Warning, "Picture not added:", message, "upload");

    /// <summary>
    /// Fills the form from an earlier image. An edited form is only replaced after the person says so;
    /// inputs that are gone, not theirs, or not allowed by the licence are left out, and the notice says so.
    /// </summary>
    private async Task UseSettingsAsync(Guid imageId)
    {
        var found = await SettingsReader.ForImageAsync(actor!, imageId);
        if (found.LicenceRefusal is { } refusal)
        {
            notice = new StudioNotice(Severity.Error, "Cannot use those settings:", refusal, "licence");
            return;
        }

        if (found.Settings is not { } settings)
        {
            notice = new StudioNotice(Severity.Warning, "Cannot use those settings:", "the image was not found, or it was not generated here.", "not-found");
            return;
        }

        if (Draft.IsEdited
            && await Dialogs.ShowMessageBoxAsync(
                "Replace your current settings?",
                "The form has changes of yours. Loading that image's settings replaces its prompt, model, size, seed and references.",
                yesText: "Replace",
                cancelText: "Keep mine") != true)
        {
            Snackbar.Add("Your settings were kept.", Severity.Info);
            return;
        }

        var left = new List<string>();
        var model = choices?.FirstOrDefault(c => string.Equals(c.Id, settings.Settings.ModelId, StringComparison.Ordinal));
        if (model is not { Allowed: true })
        {
            left.Add(model is null ? $"its model {settings.Settings.ModelId} is not installed any more" : $"its model is not available to you ({model.Reason})");
            model = null;
        }

        var references = new List<StudioImage>();
        foreach (var id in settings.Settings.ReferenceImageIds.Take(Limits.MaxReferences))
        {
            if (await InputIfUsableAsync(id, InputRole.Reference) is { } reference)
            {
                references.Add(reference);
            }
        }

        if (references.Count < settings.Settings.ReferenceImageIds.Count)
        {
            left.Add(string.Create(CultureInfo.InvariantCulture, $"{settings.Settings.ReferenceImageIds.Count - references.Count} of its reference pictures are not available"));
        }

        var source = settings.Settings.SourceImageId is { } sourceId ? await InputIfUsableAsync(sourceId, InputRole.Source) : null;
        if (settings.Settings.SourceImageId is not null && source is null)
        {
            left.Add("its source picture is not available");
        }
        else if (source is not null && references.Count >= Limits.MaxReferences)
        {
            references.RemoveAt(references.Count - 1);
        }

        Form.Apply(settings, model, references, source);
        Draft.MarkLoaded();
        historyIndex = -1;
        var message = source is null ? "Prompt, size, seed and references are in the form." : "Paint the mask again, then generate.";
        notice = left.Count == 0
            ? new StudioNotice(Severity.Success, "Settings loaded.", message, "settings")
            : new StudioNotice(Severity.Info, "Settings loaded,", $"except that {string.Join("; ", left)}. {message}", "settings");
    }

    private async Task<StudioImage?> InputIfUsableAsync(Guid imageId, InputRole role) =>
        await Images.InputAsync(actor!.UserId, imageId, role) is { Allowed: true, Image: { } row } ? ToStudioImage(row) : null;

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
