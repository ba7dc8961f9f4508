using FluxWeb.Application.Jobs;
using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Images;

/// <summary>One distinct prompt of a user: when it was last used, how often, with which model.</summary>
/// <param name="LatestImageId">
/// The newest image this prompt produced that the viewer may still receive (not deleted, and not
/// a non-commercial model's output for a commercial account); null when there is none.
/// </param>
public sealed record PromptHistoryEntry(string Prompt, DateTime LastUsedUtc, int Uses, string LastModelId, Guid? LatestImageId);

public sealed record PromptHistoryPage(IReadOnlyList<PromptHistoryEntry> Entries, int Total, int Page, int PageSize);

/// <summary>
/// A user's prompt history, read from their jobs: one entry per distinct prompt text (exactly as
/// written: the model sees "A cat" and "a cat" differently), newest use first, searchable, paged.
/// Every job counts, failed and cancelled ones too: the prompt is what the person wrote.
/// </summary>
public sealed class PromptHistoryQuery(IDbContextFactory<FluxWebDbContext> contexts, LicenceGate licences)
{
    public const int DefaultPageSize = 25;

    public const int MaxPageSize = 100;

    /// <param name="page">Zero-based.</param>
    public async Task<PromptHistoryPage> ListAsync(JobActor viewer, string? search, int page = 0, int pageSize = DefaultPageSize, CancellationToken cancellationToken = default)
    {
        pageSize = Math.Clamp(pageSize, 1, MaxPageSize);
        page = Math.Max(page, 0);
        var account = await licences.AccountTypeAsync(viewer.UserId, cancellationToken);
        var hides = !viewer.IsAdmin && account == AccountType.Commercial;

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var jobs = db.Jobs.AsNoTracking().Where(j => j.OwnerId == viewer.UserId);
        if (GalleryQuery.ContainsPattern(search) is { } pattern)
        {
            jobs = jobs.Where(DatabaseDialect.Of(db).LikeIgnoringCase<Job>(j => j.Settings.Prompt, pattern));
        }

        var prompts = jobs.GroupBy(j => j.Settings.Prompt).Select(g => new { Prompt = g.Key, LastUsedUtc = g.Max(j => j.EnqueuedUtc), Uses = g.Count() });
        var total = await prompts.CountAsync(cancellationToken);
        if (Paging.Offset(page, pageSize) is not { } offset)
        {
            return new PromptHistoryPage([], total, page, pageSize);
        }

        var rows = await prompts
            .OrderByDescending(p => p.LastUsedUtc).ThenBy(p => p.Prompt)
            .Skip(offset).Take(pageSize)
            .ToListAsync(cancellationToken);
        if (rows.Count == 0)
        {
            return new PromptHistoryPage([], total, page, pageSize);
        }

        // The page's prompts only: their newest job (for the model) and newest receivable output.
        var texts = rows.Select(r => r.Prompt).ToList();
        var lastModels = await db.Jobs.AsNoTracking()
            .Where(j => j.OwnerId == viewer.UserId && texts.Contains(j.Settings.Prompt))
            .GroupBy(j => j.Settings.Prompt)
            .Select(g => g.OrderByDescending(j => j.EnqueuedUtc).Select(j => new { j.Settings.Prompt, j.Settings.ModelId }).First())
            .ToDictionaryAsync(x => x.Prompt, x => x.ModelId, StringComparer.Ordinal, cancellationToken);
        var outputs = db.Images.AsNoTracking().Where(i => i.OwnerId == viewer.UserId && i.Kind == StoredImageKind.Output && i.Prompt != null && texts.Contains(i.Prompt));
        if (hides)
        {
            outputs = outputs.Where(LicenceQueries.ReceivableByCommercialAccount);
        }

        var latestImages = await outputs
            .GroupBy(i => i.Prompt!)
            .Select(g => g.OrderByDescending(i => i.CreatedUtc).Select(i => new { Prompt = i.Prompt!, i.Id }).First())
            .ToDictionaryAsync(x => x.Prompt, x => x.Id, StringComparer.Ordinal, cancellationToken);

        return new PromptHistoryPage(
            [.. rows.Select(r => new PromptHistoryEntry(r.Prompt, r.LastUsedUtc, r.Uses, lastModels.GetValueOrDefault(r.Prompt, ""), latestImages.TryGetValue(r.Prompt, out var id) ? id : null))],
            total,
            page,
            pageSize);
    }
}
