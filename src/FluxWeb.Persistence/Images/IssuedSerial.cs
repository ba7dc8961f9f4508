namespace FluxWeb.Persistence.Images;

/// <summary>
/// One watermark serial as it was handed out: which job's output carries it and what that model's
/// licence was. Kept when the image is deleted, so a copy found later (an upload, "Check an image",
/// <c>fluxweb verify</c>) still traces to its job and its licence.
/// </summary>
public sealed class IssuedSerial
{
    public long Id { get; set; }

    /// <summary>1 … 2²⁸−1; wraps, so the newest row with a serial is the one that counts.</summary>
    public long Serial { get; set; }

    public Guid? JobId { get; set; }

    public string? OwnerId { get; set; }

    public required string ModelId { get; set; }

    public string? LicenceId { get; set; }

    public bool? CommercialUse { get; set; }

    public DateTime IssuedUtc { get; set; }
}

/// <summary>A named number that every process sharing the database counts up atomically (the watermark serial).</summary>
public sealed class Counter
{
    public const string WatermarkSerial = "watermark-serial";

    public required string Name { get; set; }

    public long Value { get; set; }
}
