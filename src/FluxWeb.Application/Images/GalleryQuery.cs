using System.Globalization;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Boards;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Audit;
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
public sealed class GalleryQuery(IDbContextFactory<FluxWebDbContext> contexts, LicenceGate licences, ImageAccess access, AdminAuthorization admins, AuditLog audit)
{
    public const int DefaultPageSize = 48;

    public const int MaxPageSize = 200;

    public async Task<GalleryPage> ListAsync(
        JobActor viewer, GalleryFilter filter, string? cursor = null, int pageSize = DefaultPageSize, GallerySource source = GallerySource.Mine, CancellationToken cancellationToken = default)
    {
        pageSize = Math.Clamp(pageSize, 1, MaxPageSize);
        await EnsureSourceAsync(viewer, source, filter, first: cursor is null, cancellationToken);
        var account = await licences.AccountTypeAsync(viewer.UserId, cancellationToken);
        var hides = HidesNonCommercial(viewer, account, source);

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var matching = Filtered(db, viewer, filter, source);
        var visible = hides ? matching.Where(LicenceQueries.ReceivableByCommercialAccount) : matching;

        List<Listed> rows;
        if (filter.BoardId is { } boardId)
        {
            // A board is in the order its owner gave it; paged by position.
            var positioned = visible.Select(i => new { Image = i, Position = db.BoardImages.Where(e => e.BoardId == boardId && e.ImageId == i.Id).Select(e => e.Position).First() });
            if (BoardCursor(cursor) is { } afterPosition)
            {
                positioned = positioned.Where(p => p.Position > afterPosition);
            }

            rows = await Project(db, positioned.OrderBy(p => p.Position).ThenBy(p => p.Image.Id).Select(p => p.Image).Take(pageSize + 1)).ToListAsync(cancellationToken);
        }
        else
        {
            var page = visible;
            if (GalleryCursor.TryParse(cursor, out var after))
            {
                // Keyset: strictly after the last item in (CreatedUtc desc, Id desc) order.
                page = page.Where(i => i.CreatedUtc < after.CreatedUtc || (i.CreatedUtc == after.CreatedUtc && i.Id.CompareTo(after.Id) < 0));
            }

            rows = await Project(db, page.OrderByDescending(i => i.CreatedUtc).ThenByDescending(i => i.Id).Take(pageSize + 1)).ToListAsync(cancellationToken);
        }

        var hidden = hides ? await matching.CountAsync(LicenceQueries.NonCommercialOutput, cancellationToken) : 0;

        var more = rows.Count > pageSize;
        if (more)
        {
            rows.RemoveAt(rows.Count - 1);
        }

        string? next = null;
        if (more && filter.BoardId is { } board)
        {
            var last = rows[^1].Image.Id;
            var position = await db.BoardImages.Where(e => e.BoardId == board && e.ImageId == last).Select(e => e.Position).FirstAsync(cancellationToken);
            next = string.Create(CultureInfo.InvariantCulture, $"p{position}");
        }
        else if (more)
        {
            next = new GalleryCursor(rows[^1].Image.CreatedUtc, rows[^1].Image.Id).ToString();
        }

        return new GalleryPage([.. rows.Select(r => ToItem(r.Image, viewer, account, r.OwnerEmail, r.BatchId))], next, hidden, account);
    }

    private sealed record Listed(StoredImage Image, string? OwnerEmail, Guid? BatchId);

    private static IQueryable<Listed> Project(FluxWebDbContext db, IQueryable<StoredImage> images) =>
        images.Select(i => new Listed(
            i,
            db.Users.Where(u => u.Id == i.OwnerId).Select(u => u.Email).FirstOrDefault(),
            db.Jobs.Where(j => j.Id == i.JobId).Select(j => (Guid?)j.BatchId).FirstOrDefault()));

    private static int? BoardCursor(string? cursor) =>
        cursor is ['p', .. var digits] && int.TryParse(digits, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var position) ? position : null;

    /// <summary>"All images" is for administrators signed in with the cookie, checked in the database now, and its first page is audited.</summary>
    private async Task EnsureSourceAsync(JobActor viewer, GallerySource source, GalleryFilter filter, bool first, CancellationToken cancellationToken)
    {
        if (source != GallerySource.Everyone)
        {
            return;
        }

        if (!viewer.IsAdmin || !await admins.IsCurrentAdminAsync(viewer.UserId, cancellationToken))
        {
            throw new AdminAccessDeniedException();
        }

        if (first)
        {
            await audit.RecordAsync(new AuditEntry(AuditActions.AdminView, viewer.UserId)
            {
                TargetUserId = string.IsNullOrEmpty(filter.OwnerId) ? null : filter.OwnerId,
                Detail = string.IsNullOrEmpty(filter.OwnerId) ? "Opened All images (every account)." : "Opened All images for one account.",
                Channel = "ui",
            }, CancellationToken.None);
        }
    }

    /// <summary>The models the viewer's listed images were made with, for the model filter.</summary>
    public async Task<IReadOnlyList<string>> ModelsAsync(JobActor viewer, GallerySource source = GallerySource.Mine, CancellationToken cancellationToken = default)
    {
        if (source == GallerySource.Everyone && !viewer.IsAdmin)
        {
            return [];
        }

        var hides = HidesNonCommercial(viewer, await licences.AccountTypeAsync(viewer.UserId, cancellationToken), source);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var outputs = Filtered(db, viewer, new GalleryFilter(), source);
        if (hides)
        {
            outputs = outputs.Where(LicenceQueries.ReceivableByCommercialAccount);
        }

        return await outputs.Where(i => i.ModelId != null).Select(i => i.ModelId!).Distinct().OrderBy(m => m).ToListAsync(cancellationToken);
    }

    /// <summary>
    /// One image with its job, for its owner, someone it is shared with, or an administrator (anyone
    /// else: not found). A commercial account asking for a non-commercial output gets the refusal, not the image.
    /// </summary>
    public async Task<GalleryDetailResult> DetailAsync(JobActor viewer, Guid imageId, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var image = await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == imageId, cancellationToken);
        if (image is null || image.Kind != StoredImageKind.Output || !await access.MayReadAsync(viewer, image, cancellationToken))
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
            ToItem(image, viewer, account, ownerEmail, job?.BatchId),
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

    /// <summary>
    /// Administrators see non-commercial outputs (marked) in their own gallery and in "All images"; what teammates
    /// share is filtered for them like for anyone else, so the team feed never differs from a colleague's.
    /// </summary>
    private static bool HidesNonCommercial(JobActor viewer, AccountType account, GallerySource source) =>
        LicenceQueries.HidesNonCommercialOutputs(viewer.IsAdmin && source != GallerySource.SharedWithMe, account);

    /// <summary>
    /// The source's outputs narrowed by the filter; the licence rule is applied by the caller. A board filter on a
    /// board the viewer may not open matches nothing, like an unknown one.
    /// </summary>
    private static IQueryable<StoredImage> Filtered(FluxWebDbContext db, JobActor viewer, GalleryFilter filter, GallerySource source)
    {
        var outputs = db.Images.AsNoTracking().Where(i => i.Kind == StoredImageKind.Output);
        var query = source switch
        {
            GallerySource.SharedWithMe => outputs.SharedWith(db, viewer.UserId),
            GallerySource.Everyone when viewer.IsAdmin => outputs,
            GallerySource.Everyone => outputs.Where(i => false),
            // Everything on a board its viewer may open is theirs or shared with them through that board.
            _ when filter.BoardId is not null => outputs,
            _ => outputs.Where(i => i.OwnerId == viewer.UserId),
        };
        if (filter.BoardId is { } boardId)
        {
            var userId = viewer.UserId;
            // ShareQueries.Visible, written out: a helper called inside a lambda is not translated.
            query = query.Where(i => db.BoardImages.Any(e => e.BoardId == boardId && e.ImageId == i.Id)
                && db.Boards.Any(b => b.Id == boardId && (b.OwnerId == userId || db.Shares.Any(s => s.BoardId == b.Id && (s.GranteeId == userId || s.GranteeId == null)))));
        }

        if (!string.IsNullOrEmpty(filter.OwnerId))
        {
            query = query.Where(i => i.OwnerId == filter.OwnerId);
        }
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
            query = query.Where(i => i.Prompt != null).Where(DatabaseDialect.Of(db).LikeIgnoringCase<StoredImage>(i => i.Prompt, pattern));
        }

        return query;
    }

    internal const string LikeEscape = DatabaseDialect.LikeEscape;

    /// <summary>
    /// A LIKE pattern for "contains the search text", or null for no search. The user's % and _ are
    /// escaped to plain characters. Matched with <see cref="DatabaseDialect.LikeIgnoringCase"/>: on SQLite
    /// the case of ASCII letters is ignored and other letters match as typed; on PostgreSQL every letter's case is ignored.
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

    private static GalleryItem ToItem(StoredImage image, JobActor viewer, AccountType account, string? ownerEmail, Guid? batchId)
    {
        var nonCommercial = LicenceQueries.IsNonCommercialOutput(image);
        return new GalleryItem(
            image.Id, image.Prompt, image.ModelId, image.LicenceId, image.CommercialUse, image.Width, image.Height, image.Seed,
            image.CreatedUtc, image.Favourite, image.SafetyVerdict, image.JobId)
        {
            NonCommercialModel = nonCommercial,
            ShownOnlyAsAdmin = nonCommercial && viewer.IsAdmin && account == AccountType.Commercial,
            OwnerEmail = image.OwnerId == viewer.UserId ? null : ownerEmail,
            BatchId = batchId,
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
                if (!rows.TryGetValue(w.Id, out var row))
                {
                    return new GalleryInput(w.Id, w.Role, null, "deleted");
                }

                if (!viewer.MayAccess(row.OwnerId))
                {
                    // A teammate's inputs (their uploads and masks) are never shared with the output.
                    return new GalleryInput(w.Id, w.Role, null, "not shared");
                }

                var facts = LicenceGate.Facts(row);
                return !viewer.IsAdmin && facts is not null && !LicencePolicy.Decide(account, facts, LicencedAction.View).Allowed
                    ? new GalleryInput(w.Id, w.Role, null, "hidden: made by a non-commercial model")
                    : new GalleryInput(w.Id, w.Role, GalleryUrls.Thumbnail(w.Id), null);
            }),
        ];
    }
}
