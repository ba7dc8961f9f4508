using System.Text.Json;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Images;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Time;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Administration;
using FluxWeb.Provenance.Filters;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Administration;

/// <summary>An output the image filter blurred and flagged, waiting for an administrator.</summary>
public sealed record ReviewItem(Guid ImageId, Guid? JobId, string OwnerEmail, string? ModelId, string? Prompt, double? NsfwScore, DateTime CreatedUtc);

/// <summary>
/// The content policy administrators set: the prompt block list (stored, applied to
/// <see cref="PromptFilter"/> at once and on every start), the image filter's state, and the review
/// list of outputs the filter blurred.
/// </summary>
public sealed partial class ContentPolicy(
    PromptFilter prompts,
    ImageContentFilter images,
    ImageStore store,
    IDbContextFactory<FluxWebDbContext> contexts,
    AdminAuthorization admins,
    AuditLog audit,
    AppClock time,
    ILogger<ContentPolicy> logger)
{
    public const string FlaggedVerdict = nameof(ContentVerdict.BlurredForReview);

    /// <summary>What a flagged output becomes once an administrator has looked at it and kept it (it stays blurred).</summary>
    public const string ReviewedVerdict = "Reviewed";

    public const int MaxTerms = 5_000;
    public const int MaxTermLength = 200;

    public IReadOnlyList<string> BlockedTerms => prompts.BlockedTerms;

    public ImageFilterStatus ImageFilter => images.Status;

    /// <summary>
    /// Start-up: the stored list replaces the configured one (<c>Provenance:Filters:BlockedTerms</c>
    /// is only the list a fresh install starts with). Every process that takes prompts calls this.
    /// </summary>
    public async Task ApplyStoredAsync(CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var settings = await db.PolicySettings.AsNoTracking()
            .Where(s => s.Key == PolicySetting.PromptBlockList || s.Key == PolicySetting.ImageThresholds)
            .ToDictionaryAsync(s => s.Key, s => s.Value, cancellationToken);
        if (settings.TryGetValue(PolicySetting.ImageThresholds, out var thresholds))
        {
            images.SetPolicy(new ImageSafetyPolicy(JsonSerializer.Deserialize<List<ClassThreshold>>(thresholds, ThresholdJson) ?? []));
        }

        if (settings.TryGetValue(PolicySetting.PromptBlockList, out var stored))
        {
            var terms = JsonSerializer.Deserialize<List<string>>(stored) ?? [];
            prompts.SetBlockedTerms(terms);
            LogApplied(logger, prompts.BlockedTerms.Count);
        }
    }

    /// <summary>The image classifier's thresholds in force (the defaults until an admin saves others).</summary>
    public ImageSafetyPolicy ImageThresholds => images.Policy;

    /// <summary>The classes the thresholds can name: the running classifier's, else nsfwjs's.</summary>
    public IReadOnlyList<string> ImageClasses => images.Classifier is PackagedImageClassifier packaged ? packaged.Classes : NsfwjsClasses;

    public static IReadOnlyList<string> NsfwjsClasses { get; } = ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"];

    /// <summary>
    /// Stores and applies the image thresholds; returns an error (and changes nothing) for a threshold
    /// outside (0, 1], an empty or unknown class, or a class named twice in one rule.
    /// </summary>
    public async Task<string?> SaveImageThresholdsAsync(IReadOnlyList<ClassThreshold> rules, ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        foreach (var rule in rules)
        {
            if (rule.Classes.Count == 0 || rule.Classes.Distinct(StringComparer.Ordinal).Count() != rule.Classes.Count)
            {
                return "Each threshold names one or more different classes.";
            }

            if (rule.Classes.FirstOrDefault(c => !ImageClasses.Contains(c, StringComparer.Ordinal)) is { } unknown)
            {
                return $"'{unknown}' is not one of the classifier's classes ({string.Join(", ", ImageClasses)}).";
            }

            if (!(rule.Threshold > 0 && rule.Threshold <= 1))
            {
                return $"The threshold for {rule.Label} must be more than 0 and at most 1.";
            }
        }

        var policy = new ImageSafetyPolicy(rules.ToList());
        var before = images.Policy.Describe();
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var row = await db.PolicySettings.SingleOrDefaultAsync(s => s.Key == PolicySetting.ImageThresholds, cancellationToken);
        var email = actor.UserId is null ? null : await db.Users.Where(u => u.Id == actor.UserId).Select(u => u.Email).SingleOrDefaultAsync(cancellationToken);
        row ??= db.PolicySettings.Add(new PolicySetting { Key = PolicySetting.ImageThresholds, Value = "[]" }).Entity;
        row.Value = JsonSerializer.Serialize(policy.Rules, ThresholdJson);
        row.UpdatedUtc = time.GetUtcNow().UtcDateTime;
        row.UpdatedBy = email ?? actor.Channel;
        await db.SaveChangesAsync(cancellationToken);
        images.SetPolicy(policy);
        await audit.RecordAsync(new AuditEntry(AuditActions.AdminChange, actor.UserId)
        {
            Detail = $"Image thresholds changed from \"{before}\" to \"{policy.Describe()}\".",
            Channel = actor.Channel,
        }, cancellationToken);
        return null;
    }

    private static readonly JsonSerializerOptions ThresholdJson = new(JsonSerializerDefaults.Web);

    /// <summary>Stores and applies a new block list; returns an error for a list that is too long.</summary>
    public async Task<string?> SaveBlockedTermsAsync(IEnumerable<string> terms, ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        var list = terms.Select(t => t.Trim()).Where(t => t.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (list.Count > MaxTerms)
        {
            return $"At most {MaxTerms} terms.";
        }

        if (list.FirstOrDefault(t => t.Length > MaxTermLength) is { } longTerm)
        {
            return $"A term may have at most {MaxTermLength} characters (\"{longTerm[..30]}…\" has {longTerm.Length}).";
        }

        var before = prompts.BlockedTerms.ToHashSet(StringComparer.OrdinalIgnoreCase);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var row = await db.PolicySettings.SingleOrDefaultAsync(s => s.Key == PolicySetting.PromptBlockList, cancellationToken);
        var email = actor.UserId is null ? null : await db.Users.Where(u => u.Id == actor.UserId).Select(u => u.Email).SingleOrDefaultAsync(cancellationToken);
        row ??= db.PolicySettings.Add(new PolicySetting { Key = PolicySetting.PromptBlockList, Value = "[]" }).Entity;
        row.Value = JsonSerializer.Serialize(list);
        row.UpdatedUtc = time.GetUtcNow().UtcDateTime;
        row.UpdatedBy = email ?? actor.Channel;
        await db.SaveChangesAsync(cancellationToken);
        prompts.SetBlockedTerms(list);

        var added = list.Count(t => !before.Contains(t));
        var removed = before.Count(t => !list.Contains(t, StringComparer.OrdinalIgnoreCase));
        // Counts only: the terms themselves are often offensive and the list is one click away.
        await audit.RecordAsync(new AuditEntry(AuditActions.AdminChange, actor.UserId)
        {
            Detail = $"Prompt block list saved: {list.Count} term{(list.Count == 1 ? "" : "s")} ({added} added, {removed} removed).",
            Channel = actor.Channel,
        }, cancellationToken);
        return null;
    }

    public async Task<IReadOnlyList<ReviewItem>> ReviewListAsync(ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var rows = await db.Images.AsNoTracking()
            .Where(i => i.Kind == StoredImageKind.Output && i.SafetyVerdict == FlaggedVerdict)
            .OrderByDescending(i => i.CreatedUtc)
            .Take(500)
            .Select(i => new { i.Id, i.JobId, Email = db.Users.Where(u => u.Id == i.OwnerId).Select(u => u.Email).FirstOrDefault(), i.ModelId, i.Prompt, i.NsfwScore, i.CreatedUtc })
            .ToListAsync(cancellationToken);
        return rows.Select(r => new ReviewItem(r.Id, r.JobId, r.Email ?? "", r.ModelId, r.Prompt, r.NsfwScore, r.CreatedUtc)).ToList();
    }

    /// <summary>Keeps a flagged output (still blurred) and takes it off the review list.</summary>
    public async Task<bool> MarkReviewedAsync(Guid imageId, ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var image = await db.Images.SingleOrDefaultAsync(i => i.Id == imageId && i.SafetyVerdict == FlaggedVerdict, cancellationToken);
        if (image is null)
        {
            return false;
        }

        image.SafetyVerdict = ReviewedVerdict;
        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(new AuditEntry(AuditActions.AdminChange, actor.UserId) { ImageId = imageId, TargetUserId = image.OwnerId, ModelId = image.ModelId, Detail = "Flagged output reviewed and kept (it stays blurred).", Channel = actor.Channel }, cancellationToken);
        return true;
    }

    /// <summary>Deletes a flagged output: its file and its row; the job stays in its owner's history without an image.</summary>
    public async Task<bool> DeleteFlaggedAsync(Guid imageId, ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var image = await db.Images.SingleOrDefaultAsync(i => i.Id == imageId && i.SafetyVerdict == FlaggedVerdict, cancellationToken);
        if (image is null)
        {
            return false;
        }

        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            await db.Jobs.Where(j => j.OutputImageId == imageId).ExecuteUpdateAsync(set => set.SetProperty(j => j.OutputImageId, (Guid?)null), cancellationToken);
            db.Images.Remove(image);
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        var path = store.FullPath(image.RelativePath);
        if (File.Exists(path))
        {
            File.Delete(path);
        }

        await audit.RecordAsync(new AuditEntry(AuditActions.Delete, actor.UserId) { ImageId = imageId, JobId = image.JobId, TargetUserId = image.OwnerId, ModelId = image.ModelId, Detail = "Flagged output deleted after review.", Channel = actor.Channel }, cancellationToken);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Prompt block list loaded from the database: {Count} terms")]
    private static partial void LogApplied(ILogger logger, int count);
}
