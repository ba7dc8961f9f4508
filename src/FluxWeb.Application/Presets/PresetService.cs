using System.Globalization;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Models;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Presets;
using FluxWeb.Domain.Time;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Presets;

/// <summary>
/// Saved prompt/style presets, for the Studio and the API alike. A person lists their own and the published
/// ones, saves, renames, changes and deletes their own; only administrators (checked in the database on every
/// call, and never through an API key) publish a copy of one of theirs to everyone, change or withdraw it, and
/// each of those is audited. Another person's preset answers <see cref="PresetOutcome.NotFound"/> like an
/// unknown id. What a preset holds is checked when it is saved (against <see cref="GenerationLimits"/> and the
/// models the account may use) and again when it is applied: a model removed, disabled or not allowed by the
/// account's licence since is not applied, and the answer says so while the rest still applies (the same rule as
/// the Studio's model picker: a Commercial account never gets a non-commercial model selected).
/// </summary>
public sealed class PresetService(
    IDbContextFactory<FluxWebDbContext> contexts,
    ModelAccessService models,
    AdminAuthorization admins,
    GenerationLimits limits,
    AuditLog audit,
    AppClock time)
{
    /// <summary>Presets one account may keep: enough for every style of a busy studio, few enough for one picker.</summary>
    public const int MaxPerAccount = 200;

    public const string PublishedReadOnly = "Published presets are changed by administrators. Apply it and save the form as a preset of your own to make your version.";

    public const string AdminsOnly = "Only administrators publish presets.";

    /// <summary>The caller's presets by name, then the published ones by name.</summary>
    public async Task<IReadOnlyList<PresetView>> ListAsync(JobActor actor, CancellationToken cancellationToken = default)
    {
        var choices = await models.ChoicesAsync(actor.UserId, cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var rows = await Visible(db, actor).AsNoTracking().ToListAsync(cancellationToken);
        return [.. rows
            .OrderBy(p => p.IsPublished)
            .ThenBy(p => p.Name, StringComparer.CurrentCultureIgnoreCase)
            .Select(p => View(p, actor, choices))];
    }

    public async Task<PresetResult<PresetView>> GetAsync(JobActor actor, Guid id, CancellationToken cancellationToken = default)
    {
        var row = await FindAsync(actor, id, cancellationToken);
        return row is null ? PresetResult.NotFound<PresetView>() : PresetResult.Done(View(row, actor, await models.ChoicesAsync(actor.UserId, cancellationToken)));
    }

    /// <summary>A new preset of the caller's own ("Save current as preset…").</summary>
    public async Task<PresetResult<PresetView>> CreateAsync(JobActor actor, PresetDraft draft, CancellationToken cancellationToken = default)
    {
        if (await ProblemAsync(draft, actor.UserId, cancellationToken) is { } problem)
        {
            return PresetResult.Invalid<PresetView>(problem);
        }

        await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
        {
            if (await db.Presets.CountAsync(p => p.OwnerId == actor.UserId, cancellationToken) >= MaxPerAccount)
            {
                return PresetResult.Invalid<PresetView>(string.Create(CultureInfo.InvariantCulture, $"You have {MaxPerAccount} presets, the most one account keeps. Delete one you no longer use first."));
            }
        }

        var now = time.GetUtcNow().UtcDateTime;
        var preset = Fill(new Preset { Id = Guid.NewGuid(), OwnerId = actor.UserId, Name = "", NameKey = "", CreatedUtc = now }, draft, now);
        return await InsertAsync(actor, preset, cancellationToken);
    }

    /// <summary>Replaces what the preset holds (its name included) with <paramref name="draft"/>.</summary>
    public async Task<PresetResult<PresetView>> UpdateAsync(JobActor actor, Guid id, PresetDraft draft, string channel, CancellationToken cancellationToken = default)
    {
        var (row, refused) = await ChangeableAsync(actor, id, cancellationToken);
        if (row is null)
        {
            return new PresetResult<PresetView>(refused!.Value.Outcome, Error: refused.Value.Error);
        }

        if (await ProblemAsync(draft, actor.UserId, cancellationToken) is { } problem)
        {
            return PresetResult.Invalid<PresetView>(problem);
        }

        return await SaveChangeAsync(actor, row, draft, channel, "Changed", cancellationToken);
    }

    public async Task<PresetResult<PresetView>> RenameAsync(JobActor actor, Guid id, string? name, string channel, CancellationToken cancellationToken = default)
    {
        var (row, refused) = await ChangeableAsync(actor, id, cancellationToken);
        if (row is null)
        {
            return new PresetResult<PresetView>(refused!.Value.Outcome, Error: refused.Value.Error);
        }

        if (NameProblem(name) is { } problem)
        {
            return PresetResult.Invalid<PresetView>(problem);
        }

        return await SaveChangeAsync(actor, row, PresetDraft.Of(row) with { Name = name }, channel, "Renamed", cancellationToken);
    }

    /// <summary>Deletes one of the caller's presets; a published one only an administrator withdraws (audited).</summary>
    public async Task<PresetResult<bool>> DeleteAsync(JobActor actor, Guid id, string channel, CancellationToken cancellationToken = default)
    {
        var (row, refused) = await ChangeableAsync(actor, id, cancellationToken);
        if (row is null)
        {
            return new PresetResult<bool>(refused!.Value.Outcome, Error: refused.Value.Error);
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var deleted = await db.Presets.Where(p => p.Id == id && p.OwnerId == row.OwnerId).ExecuteDeleteAsync(cancellationToken);
        if (deleted == 0)
        {
            return PresetResult.NotFound<bool>();
        }

        if (row.IsPublished)
        {
            await AuditAsync(actor, $"Unpublished the preset \"{row.Name}\" ({row.Id}): nobody sees it any more.", row.ModelId, channel);
        }

        return PresetResult.Done(true);
    }

    /// <summary>
    /// An administrator publishes a copy of one of their own presets to everyone, under <paramref name="name"/>
    /// (null: the same name). The copy is checked as any preset is; their own stays theirs. Audited.
    /// </summary>
    public async Task<PresetResult<PresetView>> PublishAsync(JobActor actor, Guid id, string? name, string channel, CancellationToken cancellationToken = default)
    {
        var row = await FindAsync(actor, id, cancellationToken);
        if (row is null)
        {
            return PresetResult.NotFound<PresetView>();
        }

        if (!await IsAdminAsync(actor, cancellationToken))
        {
            return PresetResult.ReadOnly<PresetView>(AdminsOnly);
        }

        if (row.IsPublished)
        {
            return PresetResult.Invalid<PresetView>($"\"{row.Name}\" is published already.");
        }

        var draft = PresetDraft.Of(row) with { Name = string.IsNullOrWhiteSpace(name) ? row.Name : name };
        if (await ProblemAsync(draft, actor.UserId, cancellationToken) is { } problem)
        {
            return PresetResult.Invalid<PresetView>(problem);
        }

        var now = time.GetUtcNow().UtcDateTime;
        var copy = Fill(new Preset { Id = Guid.NewGuid(), OwnerId = null, PublishedById = actor.UserId, Name = "", NameKey = "", CreatedUtc = now }, draft, now);
        var published = await InsertAsync(actor, copy, cancellationToken);
        if (published.Succeeded)
        {
            await AuditAsync(actor, $"Published the preset \"{copy.Name}\" ({copy.Id}) to everyone, a copy of their own \"{row.Name}\" ({row.Id}): {published.Value!.Summary}.", copy.ModelId, channel);
        }

        return published;
    }

    /// <summary>
    /// What <paramref name="current"/> becomes with the preset: each part checked again for this account now (the
    /// model must still be installed, enabled and allowed by the licence; the size within the limits; the expanded
    /// prompt not too long). A part that fails is left out with the reason; the rest applies.
    /// </summary>
    public async Task<PresetResult<PresetApplication>> ApplyAsync(JobActor actor, Guid id, GenerationSettings current, CancellationToken cancellationToken = default)
    {
        var row = await FindAsync(actor, id, cancellationToken);
        if (row is null)
        {
            return PresetResult.NotFound<PresetApplication>();
        }

        var choices = await models.ChoicesAsync(actor.UserId, cancellationToken);
        var leftOut = new List<string>();

        var prompt = Preset.ExpandPrompt(row.PromptTemplate, current.Prompt);
        if (GenerationLimits.PromptProblem(prompt) is { } tooLong)
        {
            leftOut.Add($"its prompt template was not applied: {tooLong}");
            prompt = current.Prompt;
        }

        string? modelId = null;
        int? steps = null;
        float? guidance = null;
        if (row.ModelId is { } wanted)
        {
            var model = choices.FirstOrDefault(c => string.Equals(c.Id, wanted, StringComparison.Ordinal));
            if (ModelProblem(wanted, model) is { } refused)
            {
                leftOut.Add($"{refused} so the model was not changed{(row.Steps is null && row.Guidance is null ? "" : " (nor its steps and guidance)")}");
            }
            else
            {
                modelId = wanted;
                steps = model!.StepsAdjustable ? model.Sampling.DefaultSteps : null;
                guidance = model.GuidanceAdjustable ? model.Sampling.DefaultGuidance : null;
                if (row.Steps is { } s && model.StepsAdjustable)
                {
                    if (StepsProblem(model, s) is { } problem)
                    {
                        leftOut.Add($"its steps were not applied: {problem}");
                    }
                    else
                    {
                        steps = s;
                    }
                }

                if (row.Guidance is { } g && model.GuidanceAdjustable)
                {
                    if (GuidanceProblem(model, g) is { } problem)
                    {
                        leftOut.Add($"its guidance was not applied: {problem}");
                    }
                    else
                    {
                        guidance = g;
                    }
                }
            }
        }

        (int, int)? size = null;
        if (row.Width is { } width && row.Height is { } height)
        {
            if (limits.CheckSize(width, height).Problem is { } problem)
            {
                leftOut.Add($"its size was not applied: {problem}");
            }
            else
            {
                size = (width, height);
            }
        }

        // The negative prompt goes with the model the form ends up with (the preset's, else its own) when that one reads it.
        var negativePrompt = current.NegativePrompt;
        if (row.NegativePrompt.Length > 0)
        {
            var target = choices.FirstOrDefault(c => string.Equals(c.Id, modelId ?? current.ModelId, StringComparison.Ordinal));
            if (target is { GuidanceAdjustable: false })
            {
                leftOut.Add($"its negative prompt was not applied: {target.Label} takes no negative prompt (only models with guidance read one)");
            }
            else
            {
                negativePrompt = row.NegativePrompt;
            }
        }

        return PresetResult.Done(new PresetApplication(Preset.ApplyTo(current, prompt, negativePrompt, modelId, steps, guidance, size), leftOut, modelId is not null));
    }

    // ---- Checks ------------------------------------------------------------------------------

    /// <summary>Everything wrong with <paramref name="draft"/> for <paramref name="userId"/>, first problem first; null when it can be saved.</summary>
    private async Task<string?> ProblemAsync(PresetDraft draft, string userId, CancellationToken cancellationToken)
    {
        if (NameProblem(draft.Name) is { } name)
        {
            return name;
        }

        var template = draft.PromptTemplate ?? "";
        if (template.Length > Preset.MaxTemplateLength)
        {
            return string.Create(CultureInfo.InvariantCulture, $"The prompt template is too long: it has {template.Length:N0} characters; at most {Preset.MaxTemplateLength:N0} are kept.");
        }

        var negative = draft.NegativePrompt?.Trim() ?? "";
        if (negative.Length > Preset.MaxTemplateLength)
        {
            return string.Create(CultureInfo.InvariantCulture, $"The negative prompt is too long: it has {negative.Length:N0} characters; at most {Preset.MaxTemplateLength:N0} are kept.");
        }

        if (string.IsNullOrWhiteSpace(template) && negative.Length == 0 && draft.ModelId is null && draft.Width is null && draft.Height is null)
        {
            return "This preset would change nothing: write a prompt template or a negative prompt, or include the model or the size.";
        }

        if ((draft.Width is null) != (draft.Height is null))
        {
            return "Give both a width and a height, or neither.";
        }

        if (draft.Width is { } width && draft.Height is { } height && limits.CheckSize(width, height).Problem is { } size)
        {
            return size;
        }

        if (draft.ModelId is null)
        {
            return draft.Steps is null && draft.Guidance is null ? null
                : "Steps and guidance are kept with the model they are for: include the model too, or leave them out.";
        }

        var model = (await models.ChoicesAsync(userId, cancellationToken)).FirstOrDefault(c => string.Equals(c.Id, draft.ModelId, StringComparison.Ordinal));
        if (ModelProblem(draft.ModelId, model) is { } refused)
        {
            return refused;
        }

        if (draft.Steps is { } steps)
        {
            var problem = model!.StepsAdjustable ? StepsProblem(model, steps)
                : string.Create(CultureInfo.InvariantCulture, $"{model.Label} always runs {model.Sampling.DefaultSteps} steps: leave steps out.");
            if (problem is not null)
            {
                return problem;
            }
        }

        if (draft.Guidance is { } guidance && (model!.GuidanceAdjustable ? GuidanceProblem(model, guidance) : $"{model.Label} takes no guidance: leave it out.") is { } guidanceProblem)
        {
            return guidanceProblem;
        }

        // A preset that names a distilled model would bring a negative prompt nothing reads.
        return negative.Length > 0 && !model!.GuidanceAdjustable
            ? $"{model.Label} takes no negative prompt (only models with guidance read one): leave it out, or keep no model or one with guidance."
            : null;
    }

    public static string? NameProblem(string? name)
    {
        var trimmed = name?.Trim() ?? "";
        if (trimmed.Length == 0)
        {
            return "Give the preset a name.";
        }

        if (trimmed.Length > Preset.MaxNameLength)
        {
            return string.Create(CultureInfo.InvariantCulture, $"A preset's name has at most {Preset.MaxNameLength} characters; this one has {trimmed.Length}.");
        }

        return trimmed.Any(char.IsControl) ? "A preset's name is one line, without control characters." : null;
    }

    private static string? ModelProblem(string modelId, ModelChoice? model) =>
        model is null ? $"its model {modelId} is not installed on this server any more,"
        : model.Allowed ? null
        : $"its model {model.Label} is not available to you ({model.Reason?.TrimEnd('.')}),";

    private static string? StepsProblem(ModelChoice model, int steps) => steps < model.Sampling.MinSteps || steps > model.Sampling.MaxSteps
        ? string.Create(CultureInfo.InvariantCulture, $"Steps must be between {model.Sampling.MinSteps} and {model.Sampling.MaxSteps} for {model.Label}; {steps} was asked.")
        : null;

    private static string? GuidanceProblem(ModelChoice model, float guidance) =>
        float.IsNaN(guidance) || guidance < model.Sampling.MinGuidance || guidance > model.Sampling.MaxGuidance
            ? string.Create(CultureInfo.InvariantCulture, $"Guidance must be between {model.Sampling.MinGuidance:0.##} and {model.Sampling.MaxGuidance:0.##} for {model.Label}; {guidance} was asked.")
            : null;

    // ---- Storage -----------------------------------------------------------------------------

    private static IQueryable<Preset> Visible(FluxWebDbContext db, JobActor actor) => db.Presets.Where(p => p.OwnerId == actor.UserId || p.OwnerId == null);

    private async Task<Preset?> FindAsync(JobActor actor, Guid id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await Visible(db, actor).AsNoTracking().SingleOrDefaultAsync(p => p.Id == id, cancellationToken);
    }

    /// <summary>The preset when the caller may change it: their own, or a published one for a current administrator.</summary>
    private async Task<(Preset? Row, (PresetOutcome Outcome, string? Error)? Refused)> ChangeableAsync(JobActor actor, Guid id, CancellationToken cancellationToken)
    {
        var row = await FindAsync(actor, id, cancellationToken);
        if (row is null)
        {
            return (null, (PresetOutcome.NotFound, null));
        }

        return row.IsPublished && !await IsAdminAsync(actor, cancellationToken) ? (null, (PresetOutcome.ReadOnly, PublishedReadOnly)) : (row, null);
    }

    // The role a circuit remembers may be minutes old; an API key carries no role at all (JobActor.IsAdmin is false).
    private async Task<bool> IsAdminAsync(JobActor actor, CancellationToken cancellationToken) =>
        actor.IsAdmin && await admins.IsCurrentAdminAsync(actor.UserId, cancellationToken);

    private static Preset Fill(Preset preset, PresetDraft draft, DateTime now)
    {
        preset.Name = draft.Name!.Trim();
        preset.NameKey = Preset.KeyOf(draft.Name);
        preset.PromptTemplate = (draft.PromptTemplate ?? "").Trim();
        preset.NegativePrompt = draft.NegativePrompt?.Trim() ?? "";
        preset.ModelId = draft.ModelId;
        (preset.Width, preset.Height) = (draft.Width, draft.Height);
        (preset.Steps, preset.Guidance) = draft.ModelId is null ? (null, null) : (draft.Steps, draft.Guidance);
        preset.UpdatedUtc = now;
        return preset;
    }

    private async Task<PresetResult<PresetView>> InsertAsync(JobActor actor, Preset preset, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        if (await NameTakenAsync(db, preset, cancellationToken))
        {
            return PresetResult.Invalid<PresetView>(NameTaken(preset));
        }

        db.Presets.Add(preset);
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException e) when (IsUniqueViolation(e))
        {
            // Another request took the name between the check and the write.
            return PresetResult.Invalid<PresetView>(NameTaken(preset));
        }

        return await GetAsync(actor, preset.Id, cancellationToken);
    }

    private async Task<PresetResult<PresetView>> SaveChangeAsync(JobActor actor, Preset row, PresetDraft draft, string channel, string verb, CancellationToken cancellationToken)
    {
        var before = row.Name;
        Fill(row, draft, time.GetUtcNow().UtcDateTime);
        await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
        {
            if (await NameTakenAsync(db, row, cancellationToken))
            {
                return PresetResult.Invalid<PresetView>(NameTaken(row));
            }

            db.Presets.Update(row);
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException e) when (IsUniqueViolation(e))
            {
                return PresetResult.Invalid<PresetView>(NameTaken(row));
            }
        }

        var view = await GetAsync(actor, row.Id, cancellationToken);
        if (row.IsPublished && view.Succeeded)
        {
            await AuditAsync(actor, $"{verb} the published preset \"{before}\" ({row.Id}): now \"{row.Name}\", {view.Value!.Summary}.", row.ModelId, channel);
        }

        return view;
    }

    // SQLITE_CONSTRAINT_UNIQUE: the names' indexes are the table's only unique ones besides a new key.
    private static bool IsUniqueViolation(DbUpdateException e) => DatabaseDialect.IsUniqueViolation(e);

    private static Task<bool> NameTakenAsync(FluxWebDbContext db, Preset preset, CancellationToken cancellationToken) =>
        db.Presets.AnyAsync(p => p.Id != preset.Id && p.OwnerId == preset.OwnerId && p.NameKey == preset.NameKey, CancellationToken.None);

    private static string NameTaken(Preset preset) => preset.IsPublished
        ? $"A published preset is called \"{preset.Name}\" already: choose another name."
        : $"You have a preset called \"{preset.Name}\" already: choose another name, or change that one.";

    private Task AuditAsync(JobActor actor, string detail, string? modelId, string channel) =>
        audit.RecordAsync(new AuditEntry(AuditActions.AdminChange, actor.UserId) { Detail = detail, ModelId = modelId, Channel = channel }, CancellationToken.None);

    private static PresetView View(Preset preset, JobActor actor, IReadOnlyList<ModelChoice> choices)
    {
        var model = preset.ModelId is null ? null : choices.FirstOrDefault(c => string.Equals(c.Id, preset.ModelId, StringComparison.Ordinal));
        var problem = preset.ModelId is { } id ? ModelProblem(id, model)?.TrimEnd(',') : null;
        return new PresetView(
            preset.Id,
            preset.Name,
            preset.PromptTemplate,
            preset.NegativePrompt,
            preset.ModelId,
            model?.Label,
            preset.Width,
            preset.Height,
            preset.Steps,
            preset.Guidance,
            preset.IsPublished,
            string.Equals(preset.OwnerId, actor.UserId, StringComparison.Ordinal),
            problem is null ? null : char.ToUpperInvariant(problem[0]) + problem[1..] + ".",
            preset.UpdatedUtc);
    }
}
