using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Domain.Time;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Administration;
using FluxWeb.Persistence.Boards;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace FluxWeb.Application.Boards;

/// <summary>The ZIP download's limits: <c>Export:MaxZipBytes</c> is where a fresh install starts; an administrator's setting replaces it.</summary>
public sealed class ExportOptions
{
    public const string SectionName = "Export";

    public const long MinZipBytes = 1024 * 1024;

    public const long MaxZipBytesCeiling = 1024L * 1024 * 1024 * 1024;

    /// <summary>The most bytes of images one ZIP may hold (2 GiB unless set).</summary>
    public long MaxZipBytes { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>The most images one ZIP may hold.</summary>
    public int MaxImages { get; set; } = 1000;

    public static bool ValidLimit(long bytes) => bytes is >= MinZipBytes and <= MaxZipBytesCeiling;
}

/// <summary>
/// What to put in a ZIP: the given images, or every image the filter matches in a listing (the gallery, the team
/// feed, a board, or an administrator's "All images"), exactly as that listing would show them.
/// </summary>
public sealed record ExportSelection
{
    public IReadOnlyList<Guid>? ImageIds { get; init; }

    public GalleryFilter Filter { get; init; } = new();

    public GallerySource Source { get; init; } = GallerySource.Mine;

    public static ExportSelection Of(IEnumerable<Guid> ids) => new() { ImageIds = [.. ids] };
}

/// <summary>Through which door a ZIP is asked for: the pages, the API with the cookie, or the API with a key (an export, for the licence and the audit log).</summary>
public enum ExportVia
{
    Ui,
    Api,
    ApiKey,
}

/// <summary>An image left out of a ZIP and why; <see cref="ImageId"/> is null for images a listing already left out (never named).</summary>
/// <param name="ByLicence">Refused by the licence (and so audited as a refusal), not missing or unshared.</param>
public sealed record ExportSkip(Guid? ImageId, string Reason, bool ByLicence = false);

/// <summary>One image going into a ZIP; <paramref name="Made"/>: what its job made it with (null for an image without a job).</summary>
public sealed record ExportEntry(StoredImage Image, string FullPath, long Bytes, string? OwnerEmail, string FileName, GenerationSettings? Made = null);

/// <summary>What a ZIP will hold, decided now: the images the caller may download, what was left out, and whether it fits the limit.</summary>
/// <param name="TooLarge">Refused for its size or its number of images (not for having nothing to download).</param>
public sealed record ExportPlan(IReadOnlyList<ExportEntry> Entries, IReadOnlyList<ExportSkip> Skipped, long Bytes, long LimitBytes, string? Refusal, bool TooLarge = false)
{
    public bool Refused => Refusal is not null;
}

/// <summary>A prepared download: the selection, for one user, to be streamed from <see cref="ZipExport.Url"/> shortly after (kept in the database, so any web node can stream it).</summary>
/// <param name="RefusalsRecorded">The images whose licence refusal the preparation recorded in the audit log.</param>
public sealed record ExportTicket(Guid Id, string UserId, bool IsAdmin, ExportSelection Selection, DateTimeOffset ExpiresUtc, IReadOnlySet<Guid> RefusalsRecorded);

/// <summary>
/// Many images at once as a ZIP, streamed: each original byte for byte (watermark and Content Credentials intact), a
/// <c>.metadata.json</c> beside it (prompt, model, seed, licence, who made it, when, and the rest of what it was made with), and <c>skipped.txt</c> naming what
/// was left out and why. Every image goes through <see cref="ImageAccess"/> for the download (or, with a key, the
/// export) licence action, so a Commercial account's ZIP never holds a non-commercial output, shared or not. The size
/// limit is an administrator's (stored), else the configured one; a selection over it is refused before a byte is sent.
/// A browser cannot POST and save a stream, so a selection is first prepared (checked, and kept a few minutes as a
/// ticket for its user, in the database so that any web node can answer the GET) and then fetched by a plain GET,
/// which decides everything again.
/// </summary>
public sealed class ZipExport(
    IDbContextFactory<FluxWebDbContext> contexts,
    ImageAccess access,
    GalleryQuery gallery,
    AdminAuthorization admins,
    AuditLog audit,
    IOptions<ExportOptions> options,
    AppClock time)
{
    public static readonly TimeSpan TicketLifetime = TimeSpan.FromMinutes(10);

    private const int MaxTicketsPerUser = 20;

    private static readonly JsonSerializerOptions MetadataJson = new(JsonSerializerDefaults.Web) { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>How a ticket's selection is stored: enums by name, so a stored row reads the same after a reordering.</summary>
    private static readonly JsonSerializerOptions SelectionJson = new(JsonSerializerDefaults.Web) { Converters = { new JsonStringEnumConverter() } };

    public static string Url(Guid ticket) => $"{JobUrls.ApiPrefix}/exports/{ticket:N}";

    /// <summary>The limit in force: the administrator's, else the configured one.</summary>
    public async Task<long> LimitBytesAsync(CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var stored = await db.PolicySettings.AsNoTracking().Where(s => s.Key == PolicySetting.ZipLimitBytes).Select(s => s.Value).SingleOrDefaultAsync(cancellationToken);
        return long.TryParse(stored, NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) && ExportOptions.ValidLimit(bytes) ? bytes : options.Value.MaxZipBytes;
    }

    /// <summary>An administrator sets the limit (checked in the database now, audited); answers an error and changes nothing for a value out of range.</summary>
    public async Task<string?> SetLimitBytesAsync(long bytes, ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        if (!ExportOptions.ValidLimit(bytes))
        {
            return string.Create(CultureInfo.InvariantCulture, $"The ZIP limit must be between {ExportOptions.MinZipBytes:N0} bytes (1 MiB) and {ExportOptions.MaxZipBytesCeiling:N0} bytes (1 TiB).");
        }

        var before = await LimitBytesAsync(cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var row = await db.PolicySettings.SingleOrDefaultAsync(s => s.Key == PolicySetting.ZipLimitBytes, cancellationToken);
        var email = actor.UserId is null ? null : await db.Users.Where(u => u.Id == actor.UserId).Select(u => u.Email).SingleOrDefaultAsync(cancellationToken);
        row ??= db.PolicySettings.Add(new PolicySetting { Key = PolicySetting.ZipLimitBytes, Value = "" }).Entity;
        row.Value = bytes.ToString(CultureInfo.InvariantCulture);
        row.UpdatedUtc = time.GetUtcNow().UtcDateTime;
        row.UpdatedBy = email ?? actor.Channel;
        await db.SaveChangesAsync(cancellationToken);
        await audit.RecordAsync(new AuditEntry(AuditActions.AdminChange, actor.UserId)
        {
            Detail = string.Create(CultureInfo.InvariantCulture, $"ZIP download limit changed from {before:N0} to {bytes:N0} bytes."),
            Channel = actor.Channel,
        }, cancellationToken);
        return null;
    }

    /// <summary>Checks a selection now and, when it may be downloaded, keeps it as a ticket for its user.</summary>
    public async Task<(ExportPlan Plan, ExportTicket? Ticket)> PrepareAsync(JobActor actor, ExportSelection selection, ExportVia via, CancellationToken cancellationToken = default)
    {
        var plan = await PlanAsync(actor, selection, via, cancellationToken);
        if (plan.Refused)
        {
            return (plan, null);
        }

        var now = time.GetUtcNow();
        var refused = plan.Skipped.Where(s => s.ByLicence && s.ImageId is not null).Select(s => s.ImageId!.Value).ToHashSet();
        var ticket = new ExportTicket(Guid.NewGuid(), actor.UserId, actor.IsAdmin, selection, now + TicketLifetime, refused);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var nowUtc = now.UtcDateTime;
        await db.ExportTickets.Where(t => t.ExpiresUtc <= nowUtc).ExecuteDeleteAsync(cancellationToken);
        // A user's oldest pending downloads make room: a script preparing in a loop cannot grow the table without bound.
        var crowded = await db.ExportTickets.Where(t => t.UserId == actor.UserId)
            .OrderByDescending(t => t.ExpiresUtc).Skip(MaxTicketsPerUser - 1).Select(t => t.Id).ToListAsync(cancellationToken);
        if (crowded.Count > 0)
        {
            await db.ExportTickets.Where(t => crowded.Contains(t.Id)).ExecuteDeleteAsync(cancellationToken);
        }

        db.ExportTickets.Add(new ExportTicketRow
        {
            Id = ticket.Id,
            UserId = ticket.UserId,
            IsAdmin = ticket.IsAdmin,
            Selection = JsonSerializer.Serialize(selection, SelectionJson),
            RefusalsRecorded = JsonSerializer.Serialize(refused),
            ExpiresUtc = ticket.ExpiresUtc.UtcDateTime,
        });
        await db.SaveChangesAsync(cancellationToken);
        return (plan, ticket);
    }

    /// <summary>
    /// The caller's own pending download, from whichever process prepared it; anyone else's, an expired or an unknown
    /// ticket is null alike.
    /// </summary>
    public async Task<ExportTicket?> TicketAsync(JobActor actor, Guid id, CancellationToken cancellationToken = default)
    {
        var now = time.GetUtcNow().UtcDateTime;
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var row = await db.ExportTickets.AsNoTracking()
            .SingleOrDefaultAsync(t => t.Id == id && t.UserId == actor.UserId && t.ExpiresUtc > now, cancellationToken);
        if (row is null || JsonSerializer.Deserialize<ExportSelection>(row.Selection, SelectionJson) is not { } selection)
        {
            return null;
        }

        var refused = JsonSerializer.Deserialize<HashSet<Guid>>(row.RefusalsRecorded) ?? [];
        return new ExportTicket(row.Id, row.UserId, row.IsAdmin, selection, new DateTimeOffset(row.ExpiresUtc, TimeSpan.Zero), refused);
    }

    /// <summary>
    /// Decides a prepared download again as it is fetched (an unshare, a deletion or a switch to Commercial since
    /// counts). A refusal the preparation already recorded is not recorded twice; one that is new now is.
    /// </summary>
    public Task<ExportPlan> PlanDownloadAsync(JobActor reader, ExportTicket ticket, ExportVia via, CancellationToken cancellationToken = default) =>
        PlanAsync(reader, ticket.Selection, via, ticket.RefusalsRecorded, cancellationToken);

    /// <summary>Decides now what a selection's ZIP holds: each image through the door, the listing's own rules for a filter, and the limit.</summary>
    public async Task<ExportPlan> PlanAsync(JobActor actor, ExportSelection selection, ExportVia via, CancellationToken cancellationToken = default) =>
        await PlanAsync(actor, selection, via, refusalsRecorded: null, cancellationToken);

    private async Task<ExportPlan> PlanAsync(JobActor actor, ExportSelection selection, ExportVia via, IReadOnlySet<Guid>? refusalsRecorded, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var limit = await LimitBytesAsync(cancellationToken);
        var skipped = new List<ExportSkip>();
        IReadOnlyList<Guid> ids;
        if (selection.ImageIds is { } given)
        {
            ids = [.. given.Distinct()];
        }
        else
        {
            var listed = new List<Guid>();
            string? cursor = null;
            var hidden = 0;
            do
            {
                var page = await gallery.ListAsync(actor, selection.Filter, cursor, GalleryQuery.MaxPageSize, selection.Source, cancellationToken);
                listed.AddRange(page.Items.Select(i => i.Id));
                hidden = page.HiddenByLicence;
                cursor = page.NextCursor;
            }
            while (cursor is not null && listed.Count <= settings.MaxImages);

            if (hidden > 0)
            {
                skipped.Add(new ExportSkip(null, string.Create(CultureInfo.InvariantCulture,
                    $"{hidden} {(hidden == 1 ? "image" : "images")} matching the selection left out: made by a non-commercial model, and this account is commercial.")));
            }

            ids = listed;
        }

        if (ids.Count == 0)
        {
            return new ExportPlan([], skipped, 0, limit, "Nothing to download: select at least one image.");
        }

        if (ids.Count > settings.MaxImages)
        {
            return new ExportPlan([], skipped, 0, limit, string.Create(CultureInfo.InvariantCulture,
                $"A ZIP holds at most {settings.MaxImages:N0} images; {(selection.ImageIds is null ? "the selection matches more" : $"{ids.Count:N0} were asked for")}. Select fewer images."), TooLarge: true);
        }

        var action = via == ExportVia.ApiKey ? LicencedAction.Export : LicencedAction.Download;
        var read = new ImageRead(action, Channel(via)) { Kinds = new HashSet<StoredImageKind> { StoredImageKind.Output } };
        var entries = new List<ExportEntry>();
        foreach (var id in ids)
        {
            var opened = await access.OpenAsync(actor, id, refusalsRecorded?.Contains(id) == true ? read with { AuditRefusal = false } : read, cancellationToken);
            switch (opened.Outcome)
            {
                case ImageAccessOutcome.Allowed:
                    var file = opened.File;
                    entries.Add(new ExportEntry(file.Image, file.FullPath, new FileInfo(file.FullPath).Length, null, EntryName(file.Image)));
                    break;
                case ImageAccessOutcome.LicenceRefused:
                    skipped.Add(new ExportSkip(id, $"not available to this account's licence: {opened.Reason}", ByLicence: true));
                    break;
                default:
                    skipped.Add(new ExportSkip(id, "not found, or not shared with you (any more)."));
                    break;
            }
        }

        var emails = await OwnerEmailsAsync(entries.Select(e => e.Image.OwnerId).Distinct().ToList(), cancellationToken);
        var made = await SettingsOfJobsAsync(entries.Select(e => e.Image.JobId).OfType<Guid>().Distinct().ToList(), cancellationToken);
        entries = [.. entries.Select(e => e with
        {
            OwnerEmail = emails.GetValueOrDefault(e.Image.OwnerId),
            Made = e.Image.JobId is { } job ? made.GetValueOrDefault(job) : null,
        })];
        var bytes = entries.Sum(e => e.Bytes);
        if (entries.Count == 0)
        {
            return new ExportPlan([], skipped, 0, limit, "None of the selected images can be downloaded by this account." + (skipped.Count > 0 ? $" {Describe(skipped[0])}" : ""));
        }

        var refusal = bytes > limit
            ? string.Create(CultureInfo.InvariantCulture, $"The ZIP would hold {entries.Count:N0} images, {bytes:N0} bytes; the limit an administrator set is {limit:N0} bytes. Select fewer images.")
            : null;
        return new ExportPlan(entries, skipped, bytes, limit, refusal, TooLarge: refusal is not null);
    }

    /// <summary>
    /// Writes a plan's ZIP to <paramref name="output"/> as it goes (only asynchronous writes, nothing held but one
    /// buffer), then records it: one "download-zip" for the caller and one download (or export) per image of someone
    /// else's, naming its owner. An image whose file went away since the plan is named in skipped.txt instead.
    /// </summary>
    public async Task WriteAsync(JobActor actor, ExportPlan plan, Stream output, ExportVia via, CancellationToken cancellationToken = default)
    {
        if (plan.Refused)
        {
            throw new InvalidOperationException("A refused plan has no ZIP.");
        }

        var skipped = plan.Skipped.ToList();
        var written = new List<ExportEntry>();
        await using var body = new SyncWritesHeldStream(output);
        await using (var zip = await ZipArchive.CreateAsync(body, ZipArchiveMode.Create, leaveOpen: true, entryNameEncoding: null, cancellationToken))
        {
            foreach (var entry in plan.Entries)
            {
                FileStream source;
                try
                {
                    source = new FileStream(entry.FullPath, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 64 * 1024, useAsync: true);
                }
                catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
                {
                    skipped.Add(new ExportSkip(entry.Image.Id, "deleted while the ZIP was being made."));
                    continue;
                }

                var made = new DateTimeOffset(DateTime.SpecifyKind(entry.Image.CreatedUtc, DateTimeKind.Utc));
                await using (source)
                {
                    // PNGs are compressed already: stored as they are, byte for byte.
                    var image = zip.CreateEntry(entry.FileName, CompressionLevel.NoCompression);
                    image.LastWriteTime = made;
                    await using (var target = await image.OpenAsync(cancellationToken))
                    {
                        await source.CopyToAsync(target, cancellationToken);
                    }
                }

                var metadata = zip.CreateEntry(Path.ChangeExtension(entry.FileName, ".metadata.json"), CompressionLevel.Optimal);
                metadata.LastWriteTime = made;
                await using (var target = await metadata.OpenAsync(cancellationToken))
                {
                    await JsonSerializer.SerializeAsync(target, Metadata(entry), MetadataJson, cancellationToken);
                }

                written.Add(entry);
            }

            if (skipped.Count > 0)
            {
                var note = zip.CreateEntry("skipped.txt", CompressionLevel.Optimal);
                await using var target = await note.OpenAsync(cancellationToken);
                await target.WriteAsync(Encoding.UTF8.GetBytes(SkippedText(skipped)), cancellationToken);
            }
        }

        await body.FlushAsync(cancellationToken);
        await RecordAsync(actor, written, skipped.Count, via);
    }

    /// <summary>What skipped.txt says, one line per image (or per group a listing left out).</summary>
    public static string SkippedText(IEnumerable<ExportSkip> skipped)
    {
        var text = new StringBuilder("Left out of this ZIP:\n");
        foreach (var skip in skipped)
        {
            text.Append("- ").Append(Describe(skip)).Append('\n');
        }

        return text.ToString();
    }

    public static string Describe(ExportSkip skip) => skip.ImageId is { } id ? $"{id}: {skip.Reason}" : skip.Reason;

    /// <summary>The file's name in the ZIP: when it was made, then its id (sorts by time, never collides).</summary>
    public static string EntryName(StoredImage image) =>
        string.Create(CultureInfo.InvariantCulture, $"{image.CreatedUtc:yyyy-MM-dd_HHmmss}-{image.Id:N}{(image.ContentType == "image/png" ? ".png" : Path.GetExtension(image.RelativePath))}");

    private static object Metadata(ExportEntry entry) => new
    {
        id = entry.Image.Id,
        prompt = entry.Image.Prompt,
        model = entry.Image.ModelId,
        // A 64-bit seed as text: JSON readers that use doubles would round it.
        seed = entry.Image.Seed?.ToString(CultureInfo.InvariantCulture),
        licence = entry.Image.LicenceId,
        commercialUse = entry.Image.CommercialUse,
        owner = entry.OwnerEmail,
        created = DateTime.SpecifyKind(entry.Image.CreatedUtc, DateTimeKind.Utc),
        width = entry.Image.Width,
        height = entry.Image.Height,
        sha256 = entry.Image.Sha256,
        watermarkSerial = entry.Image.WatermarkSerial,
        jobId = entry.Image.JobId,
        // The rest of what the image was made with (the row above has the prompt, model, seed and size), so that the
        // ZIP alone is enough to make it again. Input pictures are this server's ids, and stay out.
        settings = entry.Made is not { } made ? null : new
        {
            mode = made.Mode.ToString(),
            steps = made.Steps,
            guidance = made.Guidance,
            negativePrompt = made.NegativePrompt.Length == 0 ? null : made.NegativePrompt,
            strength = made.Mode == JobMode.MaskedEdit ? made.Strength : (float?)null,
            feather = made.Mode == JobMode.MaskedEdit ? made.Feather : (bool?)null,
        },
    };

    /// <summary>Each job's settings as it ran (the resolved size and steps), by job id.</summary>
    private async Task<Dictionary<Guid, GenerationSettings>> SettingsOfJobsAsync(List<Guid> jobIds, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var jobs = await db.Jobs.AsNoTracking().Where(j => jobIds.Contains(j.Id)).ToListAsync(cancellationToken);
        return jobs.ToDictionary(j => j.Id, j => j.ResolvedSettings());
    }

    private async Task<Dictionary<string, string?>> OwnerEmailsAsync(List<string> ownerIds, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Users.Where(u => ownerIds.Contains(u.Id)).ToDictionaryAsync(u => u.Id, u => u.Email, cancellationToken);
    }

    private static string Channel(ExportVia via) => via == ExportVia.Ui ? "ui" : "api";

    private async Task RecordAsync(JobActor actor, List<ExportEntry> written, int skipped, ExportVia via)
    {
        var viaKey = via == ExportVia.ApiKey;
        var auditChannel = Channel(via);
        await audit.RecordAsync(new AuditEntry(AuditActions.DownloadZip, actor.UserId)
        {
            Detail = string.Create(CultureInfo.InvariantCulture, $"{written.Count} images, {written.Sum(e => e.Bytes):N0} bytes; {skipped} left out."),
            Channel = auditChannel,
        }, CancellationToken.None);
        foreach (var entry in written.Where(e => e.Image.OwnerId != actor.UserId))
        {
            await audit.RecordAsync(new AuditEntry(viaKey ? AuditActions.Export : AuditActions.Download, actor.UserId)
            {
                ImageId = entry.Image.Id,
                ModelId = entry.Image.ModelId,
                TargetUserId = entry.Image.OwnerId,
                Detail = "In a ZIP download.",
                Channel = auditChannel,
            }, CancellationToken.None);
        }
    }
}
