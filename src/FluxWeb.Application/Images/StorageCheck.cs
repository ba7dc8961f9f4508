using System.Globalization;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Domain.Audit;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Images;

/// <summary>An image row whose file is not on disk: the gallery shows it broken, and nothing can bring the picture back.</summary>
public sealed record MissingImageFile(Guid ImageId, string? OwnerEmail, string RelativePath);

/// <summary>What <see cref="StorageCheck"/> found in the image folder, and what it removed.</summary>
public sealed record StorageReport(
    int Files,
    long Bytes,
    int Rows,
    IReadOnlyList<string> Unrecorded,
    long UnrecordedBytes,
    int TooRecentToJudge,
    IReadOnlyList<MissingImageFile> Missing,
    int Removed,
    int NotRemoved)
{
    /// <summary>Nothing left to act on: every row has its file, and no file is left without a row.</summary>
    public bool Clean => Missing.Count == 0 && Unrecorded.Count == Removed;
}

/// <summary>
/// Compares the image folder with the <c>Images</c> rows, for <c>fluxweb storage check</c> and <c>/admin/storage</c>. Every write and deletion
/// cleans up after itself, but a few narrow cases can still leave a file without its row (a process killed between an
/// upload's file and its row, a file the file system refused to delete, a run presumed dead that wrote after its check:
/// ADR 0022), and a backup restored by hand can leave rows without files. Unrecorded files are removed only when asked
/// and only once they are older than <see cref="UnrecordedAge"/>: a job writes its file just before it commits its row, so
/// a young file may still get one. Thumbnails follow their originals. Rows are never changed: a row without its file is
/// reported with its owner, for an administrator to decide. A removal is audited.
/// </summary>
public sealed partial class StorageCheck(
    IDbContextFactory<FluxWebDbContext> contexts,
    ImageStore store,
    AdminAuthorization admins,
    AuditLog audit,
    ILogger<StorageCheck> logger)
{
    /// <summary>Far longer than any write-then-commit takes, and than a lease, after which a run can no longer commit.</summary>
    public static readonly TimeSpan UnrecordedAge = TimeSpan.FromHours(1);

    public async Task<StorageReport> RunAsync(ChangeActor actor, bool removeUnrecorded, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        var recorded = new Dictionary<string, Guid>(StringComparer.Ordinal);
        await using (var db = await contexts.CreateDbContextAsync(cancellationToken))
        {
            await foreach (var row in db.Images.AsNoTracking().Where(i => i.RelativePath != "").Select(i => new { i.Id, i.RelativePath }).AsAsyncEnumerable().WithCancellation(cancellationToken))
            {
                recorded[row.RelativePath] = row.Id;
            }
        }

        // The file system's clock, not the AppClock: file times are real.
        var cutoff = DateTime.UtcNow - UnrecordedAge;
        var dataDirectory = Path.GetDirectoryName(store.Root)!;
        var onDisk = new HashSet<string>(StringComparer.Ordinal);
        var unrecorded = new List<(string RelativePath, long Length)>();
        var files = 0;
        long bytes = 0;
        var tooRecent = 0;
        var root = new DirectoryInfo(store.Root);
        foreach (var file in root.Exists ? root.EnumerateFiles("*", SearchOption.AllDirectories) : [])
        {
            files++;
            bytes += file.Length;
            var relativePath = Path.GetRelativePath(dataDirectory, file.FullName).Replace(Path.DirectorySeparatorChar, '/');
            onDisk.Add(relativePath);
            if (recorded.ContainsKey(OriginalOf(relativePath)))
            {
                continue;
            }

            if (file.LastWriteTimeUtc >= cutoff)
            {
                tooRecent++;
                continue;
            }

            unrecorded.Add((relativePath, file.Length));
        }

        // A row written or deleted while the folder was read is judged on what the database says now.
        var stillUnrecorded = await WithoutRowsNowAsync(unrecorded.Select(u => OriginalOf(u.RelativePath)).Distinct().ToList(), cancellationToken);
        unrecorded.RemoveAll(u => !stillUnrecorded.Contains(OriginalOf(u.RelativePath)));
        var missing = await MissingNowAsync(recorded.Where(r => !onDisk.Contains(r.Key)).Select(r => r.Value).ToList(), cancellationToken);

        var removed = 0;
        var notRemoved = 0;
        if (removeUnrecorded)
        {
            foreach (var (relativePath, _) in unrecorded)
            {
                if (store.TryDeleteStoredFile(relativePath))
                {
                    LogRemoved(logger, relativePath);
                    removed++;
                }
                else
                {
                    notRemoved++;
                }
            }
        }

        if (removed > 0)
        {
            await audit.RecordAsync(new AuditEntry(AuditActions.AdminChange, actor.UserId)
            {
                Detail = string.Create(CultureInfo.InvariantCulture, $"Removed {removed} image file{(removed == 1 ? "" : "s")} without a row from the data folder."),
                Channel = actor.Channel,
            }, CancellationToken.None);
        }

        return new StorageReport(
            files, bytes, recorded.Count, unrecorded.Select(u => u.RelativePath).Order(StringComparer.Ordinal).ToList(), unrecorded.Sum(u => u.Length),
            tooRecent, missing, removed, notRemoved);
    }

    /// <summary>The stored image a file belongs to: itself, or the original of a thumbnail or of a partial write.</summary>
    private static string OriginalOf(string relativePath) =>
        relativePath.EndsWith(ThumbnailStore.Suffix, StringComparison.Ordinal) ? relativePath[..^ThumbnailStore.Suffix.Length] + ".png"
        : relativePath.EndsWith(ImageStore.PartialSuffix, StringComparison.Ordinal) ? relativePath[..^ImageStore.PartialSuffix.Length]
        : relativePath;

    private async Task<HashSet<string>> WithoutRowsNowAsync(List<string> relativePaths, CancellationToken cancellationToken)
    {
        var without = relativePaths.ToHashSet(StringComparer.Ordinal);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        foreach (var chunk in relativePaths.Chunk(500))
        {
            without.ExceptWith(await db.Images.Where(i => chunk.Contains(i.RelativePath)).Select(i => i.RelativePath).ToListAsync(cancellationToken));
        }

        return without;
    }

    private async Task<List<MissingImageFile>> MissingNowAsync(List<Guid> imageIds, CancellationToken cancellationToken)
    {
        var missing = new List<MissingImageFile>();
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        foreach (var chunk in imageIds.Chunk(500))
        {
            var rows = await db.Images.AsNoTracking().Where(i => chunk.Contains(i.Id))
                .Select(i => new { i.Id, i.RelativePath, Owner = db.Users.Where(u => u.Id == i.OwnerId).Select(u => u.Email).FirstOrDefault() })
                .ToListAsync(cancellationToken);
            missing.AddRange(rows.Where(r => !File.Exists(store.FullPath(r.RelativePath))).Select(r => new MissingImageFile(r.Id, r.Owner, r.RelativePath)));
        }

        return missing.OrderBy(m => m.RelativePath, StringComparer.Ordinal).ToList();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {RelativePath}: an image file without a row")]
    private static partial void LogRemoved(ILogger logger, string relativePath);
}
