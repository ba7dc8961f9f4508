using System.ComponentModel.DataAnnotations;

namespace FluxWeb.Provenance.Decoding;

/// <summary>Limits applied to every untrusted image (uploads, references, masks, files sent to "verify").</summary>
public sealed class ImageDecodingOptions
{
    public const string SectionName = "Provenance:Decoding";

    /// <summary>Largest accepted file. Hosts should cap the request body at the same value.</summary>
    [Range(1, 512L * 1024 * 1024)]
    public long MaxBytes { get; set; } = 20L * 1024 * 1024;

    [Range(1, 65_535)]
    public int MaxWidth { get; set; } = 8192;

    [Range(1, 65_535)]
    public int MaxHeight { get; set; } = 8192;

    /// <summary>Caps width × height independently of the per-side limits (an 8192×8192 image is 256 MiB of RGBA).</summary>
    [Range(1, 1L << 31)]
    public long MaxPixels { get; set; } = 40_000_000;

    /// <summary>Largest single pixel buffer ImageSharp may allocate; a decoder asking for more fails instead of growing.</summary>
    [Range(1, 4096)]
    public int AllocationLimitMegabytes { get; set; } = 256;

    /// <summary>Memory ImageSharp keeps pooled between decodes.</summary>
    [Range(0, 4096)]
    public int PoolSizeMegabytes { get; set; } = 64;

    /// <summary>Decodes running at once; together with <see cref="AllocationLimitMegabytes"/> this bounds decoding memory.</summary>
    [Range(1, 256)]
    public int MaxConcurrentDecodes { get; set; } = 2;
}
