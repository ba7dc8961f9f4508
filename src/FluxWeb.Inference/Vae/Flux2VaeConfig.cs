using FluxWeb.Inference.SafeTensors;

namespace FluxWeb.Inference.Vae;

/// <summary>
/// Hyper-parameters of the FLUX.2 autoencoder (BFL <c>AutoEncoderParams</c>, diffusers
/// <c>AutoencoderKLFlux2</c>). Level <c>i</c> has <c>BaseChannels · ChannelMultipliers[i]</c>
/// channels; every level but the last halves the resolution; the encoder has
/// <see cref="ResBlocks"/> ResNet blocks per level and the decoder one more. The latent is the
/// posterior mean (<see cref="LatentChannels"/>), patchified 2×2 and normalised by the
/// checkpoint's non-affine BatchNorm statistics.
/// </summary>
public sealed record Flux2VaeConfig
{
    public Flux2VaeConfig(int baseChannels, IReadOnlyList<int> channelMultipliers, int resBlocks, int latentChannels = 32, int groups = 32, float batchNormEpsilon = 1e-4f, float groupNormEpsilon = 1e-6f, int imageChannels = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(baseChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(resBlocks, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(latentChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(groups, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(imageChannels, 1);
        if (channelMultipliers.Count == 0 || channelMultipliers.Any(m => m < 1))
        {
            throw new ArgumentException("A VAE needs at least one level and every channel multiplier must be positive.", nameof(channelMultipliers));
        }

        var notDivisible = channelMultipliers.Select(m => baseChannels * m).FirstOrDefault(c => c % groups != 0);
        if (notDivisible != 0)
        {
            throw new ArgumentException($"GroupNorm with {groups} groups cannot normalise a level of {notDivisible} channels.", nameof(groups));
        }

        BaseChannels = baseChannels;
        ChannelMultipliers = [.. channelMultipliers];
        ResBlocks = resBlocks;
        LatentChannels = latentChannels;
        Groups = groups;
        BatchNormEpsilon = batchNormEpsilon;
        GroupNormEpsilon = groupNormEpsilon;
        ImageChannels = imageChannels;
    }

    /// <summary>The released FLUX.2 VAE: 128/256/512/512 channels, 2 ResNet blocks per encoder level (flux2-vae.tsv).</summary>
    public static Flux2VaeConfig Official { get; } = new(128, [1, 2, 4, 4], 2);

    /// <summary>The oracle in tests/fixtures/flux2-tiny: 32/32/32/64 channels.</summary>
    public static Flux2VaeConfig FixtureTiny { get; } = new(32, [1, 1, 1, 2], 2);

    /// <summary>The random-weight demo package: the oracle's size (the smallest with the real structure: a shortcut conv in both halves).</summary>
    public static Flux2VaeConfig DemoTiny { get; } = new(32, [1, 1, 1, 2], 2);

    public int BaseChannels { get; }

    public IReadOnlyList<int> ChannelMultipliers { get; }

    /// <summary>ResNet blocks per encoder level.</summary>
    public int ResBlocks { get; }

    public int LatentChannels { get; }

    public int Groups { get; }

    public float BatchNormEpsilon { get; }

    public float GroupNormEpsilon { get; }

    public int ImageChannels { get; }

    public int Levels => ChannelMultipliers.Count;

    public int EncoderResBlocks => ResBlocks;

    public int DecoderResBlocks => ResBlocks + 1;

    public int LevelChannels(int level) => BaseChannels * ChannelMultipliers[level];

    /// <summary>Channels of the mid block (the deepest level).</summary>
    public int MidChannels => LevelChannels(Levels - 1);

    /// <summary>Mean and log-variance: what the encoder's conv_out and quant_conv produce.</summary>
    public int MomentChannels => 2 * LatentChannels;

    /// <summary>Channels after the 2×2 patchify: what the transformer sees (128).</summary>
    public int PatchedLatentChannels => 4 * LatentChannels;

    /// <summary>Image pixels per side of one unpatchified latent cell (8 for four levels).</summary>
    public int DownsamplingFactor => 1 << (Levels - 1);

    /// <summary>Image pixels per side of one patchified latent cell: image sides must be multiples of this (16).</summary>
    public int LatentScale => 2 * DownsamplingFactor;

    public bool Equals(Flux2VaeConfig? other) =>
        other is not null
        && BaseChannels == other.BaseChannels
        && ChannelMultipliers.SequenceEqual(other.ChannelMultipliers)
        && ResBlocks == other.ResBlocks
        && LatentChannels == other.LatentChannels
        && Groups == other.Groups
        && BatchNormEpsilon.Equals(other.BatchNormEpsilon)
        && GroupNormEpsilon.Equals(other.GroupNormEpsilon)
        && ImageChannels == other.ImageChannels;

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(BaseChannels);
        foreach (var multiplier in ChannelMultipliers)
        {
            hash.Add(multiplier);
        }

        hash.Add(ResBlocks);
        hash.Add(LatentChannels);
        hash.Add(Groups);
        hash.Add(ImageChannels);
        return hash.ToHashCode();
    }

    public override string ToString() =>
        $"Flux2VaeConfig(ch {BaseChannels}, mult [{string.Join(",", ChannelMultipliers)}], res blocks {ResBlocks}/{DecoderResBlocks}, z {LatentChannels}, groups {Groups})";

    /// <summary>
    /// Reads the configuration from a checkpoint's tensor names and shapes (header only): levels,
    /// channels, blocks per level and latent width. Group count and epsilons are not stored in a
    /// checkpoint; they keep the FLUX.2 values.
    /// </summary>
    public static Flux2VaeConfig FromWeights(WeightSet weights)
    {
        var naming = Flux2VaeWeightNames.DetectNaming(weights);
        var source = Path.GetFileName(weights.Source);

        // The level count decides where the reversed diffusers decoder indices point, so count the
        // encoder's levels first with a naming that does not depend on it.
        var levels = 0;
        while (weights.Contains(Flux2VaeWeightNames.EncoderResnetPrefix(naming, levels, 0) + ".conv1.weight"))
        {
            levels++;
        }

        if (levels == 0)
        {
            throw new SafeTensorsException(source, $"has no encoder ResNet blocks under the {naming} names; it is not a FLUX.2 VAE checkpoint.");
        }

        var resBlocks = 0;
        while (weights.Contains(Flux2VaeWeightNames.EncoderResnetPrefix(naming, 0, resBlocks) + ".conv1.weight"))
        {
            resBlocks++;
        }

        var convIn = weights.Get("encoder.conv_in.weight").Info.Shape;
        var baseChannels = (int)convIn[0];
        var multipliers = new int[levels];
        for (var level = 0; level < levels; level++)
        {
            var outChannels = weights.Get(Flux2VaeWeightNames.EncoderResnetPrefix(naming, level, 0) + ".conv1.weight").Info.Shape[0];
            if (outChannels % baseChannels != 0)
            {
                throw new SafeTensorsException(source, $"has {outChannels} channels at level {level}, not a multiple of the base {baseChannels}.");
            }

            multipliers[level] = (int)(outChannels / baseChannels);
        }

        var momentChannels = weights.Get("encoder.conv_out.weight").Info.Shape[0];
        return new Flux2VaeConfig(baseChannels, multipliers, resBlocks, latentChannels: (int)(momentChannels / 2), imageChannels: (int)convIn[1]);
    }
}
