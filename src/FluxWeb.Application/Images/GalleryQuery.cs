using FluxWeb.Application.Jobs;
using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Images;

/// <summary>
/// The gallery's reads: one user's generated images, newest first, paged by key, searched and
/// filtered in the database. The licence rule is applied here, in the query, so no listing can
/// show a commercial account what a non-commercial model made; administrators see everything,
/// with such images marked.
/// </summary>
public sealed class GalleryQuery(IDbContextFactory<FluxWebDbContext> contexts, LicenceGate licences, ImageAccess access)
{
    public const int DefaultPageSize = 48;

    public const int MaxPageSize = 200;

    public async Task<GalleryPage> ListAsync(JobActor viewer, GalleryFilter filter, string? cursor = null, int pageSize = DefaultPageSize, CancellationToken cancellationToken = default)
    {
        pageSize = Math.Clamp(pageSize, 1, MaxPageSize);
        var account = await licences.AccountTypeAsync(viewer.UserId, cancellationToken);
        var hides = HidesNonCommercial(viewer, account);

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var matching = Filtered(db, viewer, filter);
        var visible = hides ? matching.Where(LicenceQueries.ReceivableByCommercialAccount) : matching;

        var page = visible;
        if (GalleryCursor.TryParse(cursor, out var after))
        {
            // Keyset: strictly after the last item in (CreatedUtc desc, Id desc) order.
            page = page.Where(i => i.CreatedUtc < after.CreatedUtc || (i.CreatedUtc == after.CreatedUtc && i.Id.CompareTo(after.Id) < 0));
        }

        var rows = await page
            .OrderByDescending(i => i.CreatedUtc).ThenByDescending(i => i.Id)
            .Take(pageSize + 1)
            .ToListAsync(cancellationToken);
        var hidden = hides ? await matching.CountAsync(LicenceQueries.NonCommercialOutput, cancellationToken) : 0;

        var more = rows.Count > pageSize;
        if (more)
        {
            rows.RemoveAt(rows.Count - 1);
        }

        var next = more ? new GalleryCursor(rows[^1].CreatedUtc, rows[^1].Id).ToString() : null;
        return new GalleryPage([.. rows.Select(r => ToItem(r, viewer, account))], next, hidden, account);
    }

    /// <summary>The models the viewer's listed images were made with, for the model filter.</summary>
    public async Task<IReadOnlyList<string>> ModelsAsync(JobActor viewer, CancellationToken cancellationToken = default)
    {
        var hides = HidesNonCommercial(viewer, await licences.AccountTypeAsync(viewer.UserId, cancellationToken));
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var outputs = Filtered(db, viewer, new GalleryFilter());
        if (hides)
        {
            outputs = outputs.Where(LicenceQueries.ReceivableByCommercialAccount);
        }

        return await outputs.Where(i => i.ModelId != null).Select(i => i.ModelId!).Distinct().OrderBy(m => m).ToListAsync(cancellationToken);
    }

    /// <summary>
    /// One image with its job, for its owner or an administrator (anyone else: not found). A
    /// commercial account asking for a non-commercial output gets the refusal, not the image.
    /// </summary>
    public async Task<GalleryDetailResult> DetailAsync(JobActor viewer, Guid imageId, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var image = await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == imageId, cancellationToken);
        if (image is null || !viewer.MayAccess(image.OwnerId))
        {
            return GalleryDetailResult.NotFound;
        }

        var account = await licences.AccountTypeAsync(viewer.UserId, cancellationToken);
        if (await access.DecideAsync(viewer, image, LicencedAction.View, cancellationToken) is { Allowed: false } refused)
        {
            return new GalleryDetailResult(null, refused.Reason);
        }

        var job = image.JobId is { } jobId ? await db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == jobId, cancellationToken) : null;
        var ownerEmail = image.OwnerId == viewer.UserId ? null
            : await db.Users.Where(u => u.Id == image.OwnerId).Select(u => u.Email).SingleOrDefaultAsync(cancellationToken);
        var inputs = job is null ? [] : await InputsAsync(db, viewer, account, job, cancellationToken);
        var detail = new GalleryDetail(
            ToItem(image, viewer, account),
            image.OwnerId,
            ownerEmail,
            image.Sha256,
            image.SizeBytes,
            image.WatermarkSerial,
            image.NsfwScore,
            job is null ? null : new GalleryJob(
                job.Id, job.Mode, job.Settings, job.ResolvedSteps,
                job.EnqueuedUtc, job.StartedUtc, job.FinishedUtc, job.GpuSeconds, job.Attempts),
            inputs);
        return new GalleryDetailResult(detail, null);
    }

    private static bool HidesNonCommercial(JobActor viewer, AccountType account) => LicenceQueries.HidesNonCommercialOutputs(viewer.IsAdmin, account);

    /// <summary>The viewer's own outputs narrowed by the filter; the licence rule is applied by the caller.</summary>
    private static IQueryable<StoredImage> Filtered(FluxWebDbContext db, JobActor viewer, GalleryFilter filter)
    {
        var query = db.Images.AsNoTracking().Where(i => i.OwnerId == viewer.UserId && i.Kind == StoredImageKind.Output);
        if (filter.FavouritesOnly)
        {
            query = query.Where(i => i.Favourite);
        }

        if (!string.IsNullOrEmpty(filter.ModelId))
        {
            query = query.Where(i => i.ModelId == filter.ModelId);
        }

        if (filter.FromUtc is { } from)
        {
            query = query.Where(i => i.CreatedUtc >= from);
        }

        if (filter.ToUtc is { } to)
        {
            query = query.Where(i => i.CreatedUtc < to);
        }

        if (ContainsPattern(filter.Search) is { } pattern)
        {
            query = query.Where(i => i.Prompt != null && EF.Functions.Like(i.Prompt, pattern, LikeEscape));
        }

        return query;
    }

    internal const string LikeEscape = "\\";

    /// <summary>
    /// A LIKE pattern for "contains the search text", or null for no search. The user's % and _ are
    /// escaped to plain characters. SQLite's LIKE ignores case for ASCII letters only; other
    /// letters match as typed.
    /// </summary>
    internal static string? ContainsPattern(string? search)
    {
        var text = search?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        if (text.Length > GalleryFilter.MaxSearchLength)
        {
            text = text[..GalleryFilter.MaxSearchLength];
        }

        var escaped = text.Replace(LikeEscape, LikeEscape + LikeEscape, StringComparison.Ordinal)
            .Replace("%", LikeEscape + "%", StringComparison.Ordinal)
            .Replace("_", LikeEscape + "_", StringComparison.Ordinal);
        return $"%{escaped}%";
    }

    private static GalleryItem ToItem(StoredImage image, JobActor viewer, AccountType account)
    {
        var nonCommercial = LicenceQueries.IsNonCommercialOutput(image);
        return new GalleryItem(
            image.Id, image.Prompt, image.ModelId, image.LicenceId, image.CommercialUse, image.Width, image.Height, image.Seed,
            image.CreatedUtc, image.Favourite, image.SafetyVerdict, image.JobId)
        {
            NonCommercialModel = nonCommercial,
            ShownOnlyAsAdmin = nonCommercial && viewer.IsAdmin && account == AccountType.Commercial,
        };
    }

    private static async Task<IReadOnlyList<GalleryInput>> InputsAsync(FluxWebDbContext db, JobActor viewer, AccountType account, Job job, CancellationToken cancellationToken)
    {
        var wanted = new List<(Guid Id, string Role)>();
        if (job.Settings.SourceImageId is { } source)
        {
            wanted.Add((source, "Source"));
        }

        if (job.Settings.MaskImageId is { } mask)
        {
            wanted.Add((mask, "Mask"));
        }

        wanted.AddRange(job.Settings.ReferenceImageIds.Select((id, index) => (id, $"Reference {index + 1}")));
        if (wanted.Count == 0)
        {
            return [];
        }

        var ids = wanted.Select(w => w.Id).Distinct().ToList();
        var rows = await db.Images.AsNoTracking().Where(i => ids.Contains(i.Id)).ToDictionaryAsync(i => i.Id, cancellationToken);
        return
        [
            .. wanted.Select(w =>
            {
                if (!rows.TryGetValue(w.Id, out var row) || !viewer.MayAccess(row.OwnerId))
                {
                    return new GalleryInput(w.Id, w.Role, null, "deleted");
                }

                var facts = LicenceGate.Facts(row);
                return !viewer.IsAdmin && facts is not null && !LicencePolicy.Decide(account, facts, LicencedAction.View).Allowed
                    ? new GalleryInput(w.Id, w.Role, null, "hidden: made by a non-commercial model")
                    : new GalleryInput(w.Id, w.Role, GalleryUrls.Thumbnail(w.Id), null);
            }),
        ];
    }
}
