namespace FluxWeb.Domain.Images;

/// <summary>
/// An image file under the data folder with who owns it and, for outputs, what made it. The
/// model's licence is copied at generation time: replacing a package later does not change what
/// an existing image may be used for.
/// </summary>
public sealed class StoredImage
{
    public Guid Id { get; set; }

    /// <summary>The owning account (a foreign key; no navigation, so the entity does not depend on Identity).</summary>
    public required string OwnerId { get; set; }

    public StoredImageKind Kind { get; set; }

    /// <summary>The job that made an output (null for uploads and masks, and once that job is deleted).</summary>
    public Guid? JobId { get; set; }

    public string? ModelId { get; set; }

    public string? LicenceId { get; set; }

    public bool? CommercialUse { get; set; }

    public ulong? Seed { get; set; }

    public int Width { get; set; }

    public int Height { get; set; }

    public string? Prompt { get; set; }

    public DateTime CreatedUtc { get; set; }

    /// <summary>Relative to the data folder, with forward slashes (e.g. <c>images/2026/11/…png</c>).</summary>
    public required string RelativePath { get; set; }

    public required string ContentType { get; set; }

    public long SizeBytes { get; set; }

    /// <summary>Lower-case hex SHA-256 of the file; also the HTTP ETag.</summary>
    public required string Sha256 { get; set; }

    /// <summary>The image serial in the output's invisible watermark (traces a file back to its job).</summary>
    public long? WatermarkSerial { get; set; }

    /// <summary>What the image safety check said about an output (Allowed, BlurredForReview, Unchecked).</summary>
    public string? SafetyVerdict { get; set; }

    public double? NsfwScore { get; set; }

    /// <summary>Marked by its owner in the gallery.</summary>
    public bool Favourite { get; set; }
}
