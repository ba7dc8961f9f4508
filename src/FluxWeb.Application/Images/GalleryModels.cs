using System.Globalization;
using System.Text.Json.Serialization;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Jobs;

namespace FluxWeb.Application.Images;

/// <summary>Whose images a listing shows.</summary>
public enum GallerySource
{
    /// <summary>The viewer's own outputs (the gallery).</summary>
    Mine,

    /// <summary>Other accounts' outputs shared with the viewer, directly, with the team or on a board (the team feed).</summary>
    SharedWithMe,

    /// <summary>Everyone's outputs: the administrators' "All images" view (cookie only, checked in the database, audited).</summary>
    Everyone,
}

/// <summary>What the gallery is narrowed to. Empty fields do not filter.</summary>
public sealed record GalleryFilter
{
    public const int MaxSearchLength = 200;

    /// <summary>Text the prompt must contain (ASCII letters case-insensitively).</summary>
    public string? Search { get; init; }

    public string? ModelId { get; init; }

    /// <summary>Made at or after this instant.</summary>
    public DateTime? FromUtc { get; init; }

    /// <summary>Made before this instant.</summary>
    public DateTime? ToUtc { get; init; }

    public bool FavouritesOnly { get; init; }

    /// <summary>Only images on this board (one the viewer may open; any other board matches nothing).</summary>
    public Guid? BoardId { get; init; }

    /// <summary>Only this account's images (the shared feed and "All images").</summary>
    public string? OwnerId { get; init; }

    public bool IsEmpty => string.IsNullOrWhiteSpace(Search) && string.IsNullOrEmpty(ModelId) && FromUtc is null && ToUtc is null && !FavouritesOnly
        && BoardId is null && string.IsNullOrEmpty(OwnerId);
}

/// <summary>
/// Where the next page starts: the last item's creation time and id. Paging by key, not by offset,
/// so an image made (or deleted) while someone scrolls neither repeats nor skips an item.
/// </summary>
public readonly record struct GalleryCursor(DateTime CreatedUtc, Guid Id)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{CreatedUtc.Ticks}-{Id:N}");

    public static bool TryParse(string? text, out GalleryCursor cursor)
    {
        cursor = default;
        var dash = text?.IndexOf('-', StringComparison.Ordinal) ?? -1;
        if (dash <= 0
            || !long.TryParse(text.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            || ticks > DateTime.MaxValue.Ticks
            || !Guid.TryParseExact(text.AsSpan(dash + 1), "N", out var id))
        {
            return false;
        }

        cursor = new GalleryCursor(new DateTime(ticks, DateTimeKind.Utc), id);
        return true;
    }
}

/// <summary>One image in a gallery listing. Pixels travel by the URLs, never in this record.</summary>
public sealed record GalleryItem(
    Guid Id,
    string? Prompt,
    string? ModelId,
    string? LicenceId,
    bool? CommercialUse,
    int Width,
    int Height,
    [property: JsonNumberHandling(JsonNumberHandling.WriteAsString | JsonNumberHandling.AllowReadingFromString)] ulong? Seed,
    DateTime CreatedUtc,
    bool Favourite,
    string? SafetyVerdict,
    Guid? JobId)
{
    /// <summary>Made by a model whose licence does not allow commercial use (or whose licence is unknown).</summary>
    public bool NonCommercialModel { get; init; }

    /// <summary>
    /// An administrator sees it only because administrators are not refused: the account itself is
    /// commercial, so for anyone else it would be hidden. The gallery marks such images.
    /// </summary>
    public bool ShownOnlyAsAdmin { get; init; }

    /// <summary>Who made it, when it is not the viewer's own (shared images show who made them); null for the viewer's own.</summary>
    public string? OwnerEmail { get; init; }

    /// <summary>The submission it came from (one batch of a request); null for images without a job.</summary>
    public Guid? BatchId { get; init; }

    public string ImageUrl => JobUrls.Image(Id);

    public string ThumbnailUrl => GalleryUrls.Thumbnail(Id);

    /// <summary>The original file, byte for byte (watermark and Content Credentials intact); the endpoint audits it.</summary>
    public string DownloadUrl => GalleryUrls.Download(Id);
}

/// <summary>One page of a gallery listing.</summary>
/// <param name="HiddenByLicence">
/// The viewer's outputs that match the filter but are not listed because a non-commercial model
/// made them and the account is commercial (never shown, never downloadable; administrators see them).
/// </param>
public sealed record GalleryPage(IReadOnlyList<GalleryItem> Items, string? NextCursor, int HiddenByLicence, AccountType AccountType);

/// <summary>The job that made an output, as the detail view shows it.</summary>
public sealed record GalleryJob(
    Guid Id,
    JobMode Mode,
    // As asked (a null size or guidance: the default), with this image's seed.
    GenerationSettings Settings,
    // What ran: the resolved step count.
    int Steps,
    DateTime EnqueuedUtc,
    DateTime? StartedUtc,
    DateTime? FinishedUtc,
    double GpuSeconds,
    int Attempts);

/// <summary>An input image of a job. <see cref="ThumbnailUrl"/> is null when the viewer may not see it or it was deleted; <see cref="Note"/> says which.</summary>
public sealed record GalleryInput(Guid Id, string Role, string? ThumbnailUrl, string? Note)
{
    public bool Available => ThumbnailUrl is not null;
}

/// <summary>Everything the detail view shows about one image.</summary>
public sealed record GalleryDetail(
    GalleryItem Image,
    string OwnerId,
    string? OwnerEmail,
    string Sha256,
    long SizeBytes,
    long? WatermarkSerial,
    double? NsfwScore,
    GalleryJob? Job,
    IReadOnlyList<GalleryInput> Inputs)
{
    public bool IsOutput => Job is not null || Image.ModelId is not null;
}

/// <summary>The answer for one image: not found (also "not yours"), refused by the licence, or the detail.</summary>
public sealed record GalleryDetailResult(GalleryDetail? Detail, string? LicenceRefusal)
{
    public static GalleryDetailResult NotFound { get; } = new(null, null);

    public bool Found => Detail is not null || LicenceRefusal is not null;
}

/// <summary>The gallery's image URLs (the host maps these routes).</summary>
public static class GalleryUrls
{
    public static string Thumbnail(Guid imageId) => $"{JobUrls.ApiPrefix}/images/{imageId}/thumbnail";

    public static string Download(Guid imageId) => $"{JobUrls.ApiPrefix}/images/{imageId}?download=true";

    public static string Favourite(Guid imageId) => $"{JobUrls.ApiPrefix}/images/{imageId}/favourite";
}
