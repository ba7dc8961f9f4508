namespace FluxWeb.Provenance.Watermarking;

/// <summary>dwtDct payloads other generators are known to embed; recognised so "verify" can name them.</summary>
public static class KnownWatermarks
{
    /// <summary>Black Forest Labs' reference payload, written with <c>bin()[2:]</c> and so 46 bits long.</summary>
    public static readonly KnownWatermark FluxReference = new("FLUX reference", "1010101111111010000111100111001111010100101110");

    /// <summary>Stability AI's SDXL payload 0xB3EC907BB19E.</summary>
    public static readonly KnownWatermark StableDiffusionXl = new("Stable Diffusion XL", "101100111110110010010000011110111011000110011110");

    public static IReadOnlyList<KnownWatermark> All { get; } = [FluxReference, StableDiffusionXl];
}

public sealed record KnownWatermark(string Name, string Bits);
