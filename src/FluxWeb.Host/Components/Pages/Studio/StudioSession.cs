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
using FluxWeb.Inference.Packages;
using FluxWeb.Provenance.Decoding;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.Options;
using MudBlazor;

namespace FluxWeb.Host.Components.Pages.Studio;

/// <summary>A message above the form: a refusal, a problem with a link, or what a link just did.</summary>
public sealed record StudioNotice(Severity Severity, string Title, string Message, string Kind)
{
    /// <summary>For a quota refusal: how many images still fit (more than 0, fewer than asked), offered as one click.</summary>
    public int? Fits { get; init; }
}

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
    FluxWeb.Application.Quotas.QuotaService quotas,
    DemoModelInstaller demo,
    FluxWeb.Application.Presets.PresetService presets,
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
    private readonly Dictionary<Guid, JobView> live = [];
    private readonly HashSet<Guid> ended = [];
    private Guid? stagedId;
    private bool followLive = true;
    private IStudioView? view;
    private IDisposable? subscription;
    private IDisposable? demoSubscription;

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

    /// <summary>Whether no installed model is one this account may use (Generate is off, and the Studio says why).</summary>
    public bool NoUsableModel => Choices is not null && !Choices.Any(c => c.Allowed);

    /// <summary>Why Generate is off, shown beside it; null when it is not.</summary>
    public string? GenerateBlockedReason => !NoUsableModel ? null
        : Choices!.Count == 0 ? "Generate is off: no model is installed on this server yet."
        : "Generate is off: none of the installed models is available to your account.";

    /// <summary>The demo model's install, once an administrator started it from the Studio; null before.</summary>
    public DemoInstallStatus? DemoInstall { get; private set; }

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

    /// <summary>The person's job that is running now (the oldest, should there be several); null when none is.</summary>
    public JobView? RunningJob => live.Values.Where(j => j.State == JobState.Running).OrderBy(j => j.StartedUtc).FirstOrDefault();

    /// <summary>The person's jobs still to come: the running one first, then those waiting, in the order they will run.</summary>
    public IReadOnlyList<JobView> PendingJobs =>
        [.. live.Values.OrderBy(j => j.State == JobState.Running ? 0 : 1).ThenBy(j => j.QueuePosition ?? int.MaxValue).ThenBy(j => j.EnqueuedUtc).ThenBy(j => j.BatchIndex)];

    /// <summary>The person's jobs waiting in the queue.</summary>
    public int WaitingCount => live.Values.Count(j => j.State == JobState.Queued);

    /// <summary>
    /// The stage shows the running job's preview unless the person picked a result from the filmstrip
    /// since it started; a job that starts takes the stage again.
    /// </summary>
    public bool StageShowsLive => followLive && RunningJob is not null;

    /// <summary>The result on the stage: the one picked from the filmstrip, else the newest.</summary>
    public JobView? StagedResult => (stagedId is { } id ? results?.FirstOrDefault(r => r.Id == id) : null) ?? results?.FirstOrDefault();

    /// <summary>What the progress chip says ("step 3/8 · 2 waiting"); null while nothing of the person's is queued or running.</summary>
    public string? ProgressText => RunningJob is { } running
        ? (running.Step > 0 && running.TotalSteps > 0 ? string.Create(CultureInfo.InvariantCulture, $"Step {running.Step}/{running.TotalSteps}") : "Starting")
          + (WaitingCount > 0 ? string.Create(CultureInfo.InvariantCulture, $" · {WaitingCount} waiting") : "")
        : WaitingCount > 0 ? string.Create(CultureInfo.InvariantCulture, $"{WaitingCount} waiting") : null;

    /// <summary>Whether the person's last job just finished and nothing else is to come (the tab says "✓ Done" until the next one).</summary>
    public bool JustFinished { get; private set; }

    /// <summary>The tab's title: progress while a job runs ("(2/8) FluxWeb"), "✓ Done" after, else the page's name.</summary>
    public string TitleText => RunningJob is { } running
        ? running.TotalSteps > 0
            ? string.Create(CultureInfo.InvariantCulture, $"({Math.Min(running.Step, running.TotalSteps)}/{running.TotalSteps}) FluxWeb")
            : "(…) FluxWeb"
        : WaitingCount > 0 ? string.Create(CultureInfo.InvariantCulture, $"({WaitingCount} waiting) FluxWeb")
        : JustFinished ? "✓ Done · FluxWeb"
        : "Studio · FluxWeb";

    /// <summary>What the tab's icon shows: "idle", "done", or the running job's percentage.</summary>
    public string FaviconState => RunningJob is { } running
        ? string.Create(CultureInfo.InvariantCulture, $"{Math.Round(LiveJobs.Percent(running) / 5) * 5:0}")
        : JustFinished ? "done" : "idle";

    public void ShowOnStage(JobView result)
    {
        stagedId = result.Id;
        followLive = false;
    }

    public void FollowLiveJob() => followLive = true;

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
        (Notice, Attempted, Submitting, historyIndex, results, LastSeed, stagedId, followLive) = (null, false, false, -1, null, null, null, true);
        history.Clear();
        live.Clear();
        ended.Clear();
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
        var mine = await jobs.ListMineAsync(actor, JobService.MaxListed);
        if (!draft.HasBeenLoaded || SelectedModel is not { Allowed: true })
        {
            if (await DefaultModelAsync(mine) is { } preferred)
            {
                Form.ChooseModel(preferred);
            }
        }

        if (!draft.HasBeenLoaded)
        {
            if (!limits.Fits(Form.Width ?? 0, Form.Height ?? 0) && Presets.Count > 0)
            {
                Form.ChooseSize(Presets[0]);
            }

            draft.MarkLoaded();
        }

        history.AddRange(mine.OrderByDescending(j => j.EnqueuedUtc).Select(j => j.Prompt).Distinct(StringComparer.Ordinal));
        var succeeded = mine.Where(j => j.State == JobState.Succeeded).OrderByDescending(j => j.FinishedUtc).ToList();
        LastSeed ??= succeeded.Select(j => (ulong?)j.Seed).FirstOrDefault();
        var finished = succeeded.Where(j => j.OutputUrl is not null).ToList();
        // Results an event added while the list was read stay.
        results = results is null ? [.. finished.Take(ResultsShown)] : [.. results.UnionBy(finished, j => j.Id).OrderByDescending(j => j.FinishedUtc).Take(ResultsShown)];
        foreach (var job in mine.Where(j => j.State is JobState.Queued or JobState.Running && !ended.Contains(j.Id)))
        {
            live[job.Id] = live.TryGetValue(job.Id, out var known) ? LiveJobs.Newer(known, job) : job;
        }

        Revalidate();
    }

    /// <summary>
    /// An administrator's first run: installs the demo model (the same as on /admin/models) and, once it
    /// is there, offers it in the picker without a reload. Only administrators; the installer checks again.
    /// </summary>
    public async Task InstallDemoAsync()
    {
        if (Actor is not { IsAdmin: true } admin || view is not { } to)
        {
            return;
        }

        demoSubscription ??= demo.Subscribe(status => _ = to.UpdateAsync(() => DemoChangedAsync(status)));
        DemoInstall = await demo.StartAsync(FluxWeb.Application.Audit.ChangeActor.Ui(admin.UserId));
        await DemoChangedAsync(DemoInstall);
    }

    private async Task DemoChangedAsync(DemoInstallStatus status)
    {
        DemoInstall = status;
        if (status.State != DemoInstallState.Installed || Actor is null)
        {
            return;
        }

        Choices = await models.ChoicesAsync(Actor.UserId);
        if (SelectedModel is not { Allowed: true } && await DefaultModelAsync([]) is { } model)
        {
            Form.ChooseModel(model);
        }

        Revalidate();
    }

    /// <summary>
    /// The model a fresh form starts with: the one the person used last (if they still may), else the
    /// administrator's default (if they may use it), else the fastest distilled model, else any they may use.
    /// </summary>
    private async Task<ModelChoice?> DefaultModelAsync(IReadOnlyList<JobView> mine)
    {
        var usable = Choices?.Where(c => c.Allowed).ToList() ?? [];
        if (usable.Count == 0)
        {
            return null;
        }

        var lastUsed = mine.OrderByDescending(j => j.EnqueuedUtc)
            .Select(j => usable.FirstOrDefault(c => string.Equals(c.Id, j.ModelId, StringComparison.Ordinal)))
            .FirstOrDefault(c => c is not null);
        if (lastUsed is not null)
        {
            return lastUsed;
        }

        var adminDefault = await models.DefaultModelIdAsync();
        return usable.FirstOrDefault(c => string.Equals(c.Id, adminDefault, StringComparison.Ordinal))
            ?? usable.Where(c => c.Variant == ModelVariant.Distilled).OrderBy(c => c.Sampling.DefaultSteps).ThenBy(c => c.Id, StringComparer.Ordinal).FirstOrDefault()
            ?? usable[0];
    }

    /// <summary>
    /// Brings back the form this person left in this browser (a reload, another tab) once per circuit,
    /// before any link is followed. It is input like any other: the model must still be allowed and every
    /// picture passes the licence door again; what is left out is said in the notice.
    /// </summary>
    public async Task RestoreAsync(SavedStudioForm? saved)
    {
        if (Actor is null || draft.Restored)
        {
            return;
        }

        draft.MarkRestored();
        if (saved is null)
        {
            return;
        }

        var left = new List<string>();
        if (saved.ModelId is not null && !string.Equals(saved.ModelId, Form.ModelId, StringComparison.Ordinal))
        {
            if (Find(saved.ModelId) is { Allowed: true } model)
            {
                Form.ChooseModel(model);
            }
            else
            {
                left.Add($"the model {saved.ModelId} is not available to you now");
            }
        }

        if (SelectedModel is { } selected && string.Equals(selected.Id, saved.ModelId, StringComparison.Ordinal))
        {
            Form.Steps = StudioForm.StepsAdjustable(selected) ? saved.Steps : null;
            Form.Guidance = StudioForm.GuidanceAdjustable(selected) ? saved.Guidance : null;
        }

        Form.Prompt = saved.Prompt;
        Form.NegativePrompt = saved.NegativePrompt;
        (Form.Width, Form.Height, Form.Count) = (saved.Width, saved.Height, saved.Count);
        (Form.SeedMode, Form.SeedText) = (saved.SeedMode, saved.SeedText);
        Form.References.Clear();
        var wanted = saved.References.Distinct().Take(limits.MaxReferences).ToList();
        foreach (var id in wanted)
        {
            if (await UsableInputAsync(id, InputRole.Reference) is { Allowed: true, Image: { } row })
            {
                Form.References.Add(ToStudioImage(row));
            }
        }

        if (Form.References.Count < wanted.Count)
        {
            var missing = wanted.Count - Form.References.Count;
            left.Add(missing == 1 ? "1 reference picture is not available any more" : string.Create(CultureInfo.InvariantCulture, $"{missing} reference pictures are not available any more"));
        }

        Form.SizeFromReference = saved.SizeFromReference && Form.References.Count > 0;
        Revalidate();
        if (left.Count > 0)
        {
            Notice = new StudioNotice(Severity.Info, "Your last form is back,", $"except that {string.Join("; ", left)}.", "restored");
        }
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
        demoSubscription?.Dispose();
        demoSubscription = null;
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
                    { Refusal: { } quota } => new StudioNotice(Severity.Warning, "Quota reached.", quota.Message, "quota") { Fits = await FittingCountAsync(quota) },
                    { LicenceRefused: true } => new StudioNotice(Severity.Error, "Not allowed by the licence.", result.Error!, "licence"),
                    _ => new StudioNotice(Severity.Error, "Not queued:", result.Error!, "refused"),
                };
                return false;
            }

            RememberPrompt(Form.Prompt.Trim());
            Attempted = false;
            JustFinished = false;
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

    /// <summary>
    /// After a refusal by the daily image or the queue limit, how many images would still be accepted
    /// now, when that is some but fewer than asked; null otherwise (nothing fits, or another limit refused).
    /// </summary>
    private async Task<int?> FittingCountAsync(FluxWeb.Application.Quotas.QuotaRefusal refusal)
    {
        if (refusal.Limit is not (FluxWeb.Application.Quotas.QuotaLimitKind.ImagesPerDay or FluxWeb.Application.Quotas.QuotaLimitKind.MaxQueuedJobs))
        {
            return null;
        }

        var status = await quotas.GetStatusAsync(Actor!.UserId);
        var fits = Math.Min(
            status.Limits.ImagesPerDay is { } perDay ? perDay - status.ImagesUsed : int.MaxValue,
            status.Limits.MaxQueuedJobs is { } queue ? queue - status.QueuedJobs : int.MaxValue);
        return fits > 0 && fits < (Form.Count ?? 1) ? fits : null;
    }

    /// <summary>Takes the offer of a quota refusal: the number of images that still fits, then Generate.</summary>
    public async Task<bool> GenerateWhatFitsAsync(IMaskCanvas? mask)
    {
        if (Notice?.Fits is not { } fits)
        {
            return false;
        }

        Change(f => f.Count = fits);
        return await GenerateAsync(mask);
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

    private void OnJobEvent(IStudioView to, JobEvent jobEvent) => _ = to.UpdateAsync(() => ApplyAsync(jobEvent));

    /// <summary>
    /// Follows the person's queued and running jobs for the stage and the progress chip. A job that
    /// ended is never brought back by a read that was under way when it ended.
    /// </summary>
    private async Task ApplyAsync(JobEvent jobEvent)
    {
        if (Actor is null)
        {
            return;
        }

        if (jobEvent.Kind is JobEventKind.Succeeded or JobEventKind.Failed or JobEventKind.Cancelled)
        {
            ended.Add(jobEvent.JobId);
            live.Remove(jobEvent.JobId);
            JustFinished = jobEvent.Kind == JobEventKind.Succeeded && live.Count == 0;
            if (jobEvent.Kind == JobEventKind.Succeeded)
            {
                await AddResultAsync(jobEvent.JobId);
            }

            return;
        }

        if (jobEvent.Kind == JobEventKind.Started)
        {
            followLive = true;
            JustFinished = false;
        }

        if (live.TryGetValue(jobEvent.JobId, out var known) && jobEvent.Kind is not (JobEventKind.Queued or JobEventKind.Requeued))
        {
            live[jobEvent.JobId] = LiveJobs.Apply(known, jobEvent);
            return;
        }

        if (await jobs.GetAsync(Actor, jobEvent.JobId) is { State: JobState.Queued or JobState.Running } fresh && !ended.Contains(fresh.Id))
        {
            live[fresh.Id] = live.TryGetValue(fresh.Id, out var meanwhile) && jobEvent.Kind != JobEventKind.Requeued ? LiveJobs.Newer(meanwhile, fresh) : fresh;
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
        if (job.Notice is not null)
        {
            Notice = new StudioNotice(Severity.Warning, "Done.", job.Notice, "not-added-to-board");
        }

        if (followLive)
        {
            // The newest result takes the stage, unless the person is looking at one they picked.
            stagedId = job.Id;
        }

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
