using FluxWeb.Inference.SafeTensors;

namespace FluxWeb.Inference.Vae;

/// <summary>The two spellings of the same VAE checkpoint.</summary>
public enum Flux2VaeNaming
{
    /// <summary>Black Forest Labs' LDM names (<c>ae.safetensors</c>): <c>encoder.down.L.block.B</c>, 1×1-conv attention weights.</summary>
    Bfl,

    /// <summary>diffusers' <c>AutoencoderKLFlux2</c> names (also Comfy's <c>flux2-vae.safetensors</c>): <c>encoder.down_blocks.L.resnets.B</c>, Linear attention weights, decoder levels reversed.</summary>
    Diffusers,
}

/// <summary>Which graph needs a tensor.</summary>
public enum Flux2VaeHalf
{
    Encoder,
    Decoder,

    /// <summary>The latent BatchNorm statistics: the encoder normalises with them, the decoder undoes it.</summary>
    Both,
}

/// <summary>What a tensor is, which decides how the seeded random writer fills it.</summary>
public enum Flux2VaeTensorKind
{
    ConvWeight,
    LinearWeight,
    Bias,
    GroupNormScale,
    GroupNormShift,
    RunningMean,
    RunningVariance,
}

/// <summary>One tensor of a checkpoint: its name in the chosen naming, its diffusers name (the identity both namings share) and its shape.</summary>
public sealed record Flux2VaeTensor(string Name, string CanonicalName, long[] Shape, Flux2VaeTensorKind Kind, Flux2VaeHalf Half)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// Maps the modules of the FLUX.2 VAE to tensor names in either naming. Levels are always counted
/// the BFL way (0 = full resolution); the diffusers decoder stores level <c>L</c> as
/// <c>up_blocks.(levels−1−L)</c>.
/// </summary>
public sealed class Flux2VaeWeightNames(Flux2VaeNaming naming, Flux2VaeConfig config)
{
    /// <summary>Written by PyTorch's BatchNorm but meaningless in eval mode: no graph binds it.</summary>
    public const string BatchCounter = "bn.num_batches_tracked";

    public const string RunningMean = "bn.running_mean";

    public const string RunningVariance = "bn.running_var";

    public Flux2VaeNaming Naming { get; } = naming;

    public Flux2VaeConfig Config { get; } = config;

    private bool Bfl => Naming == Flux2VaeNaming.Bfl;

    public static Flux2VaeNaming DetectNaming(WeightSet weights) => DetectNaming(weights.Names, Path.GetFileName(weights.Source));

    public static Flux2VaeNaming DetectNaming(IEnumerable<string> names, string source = "checkpoint")
    {
        var bfl = false;
        var diffusers = false;
        foreach (var name in names)
        {
            bfl |= name.StartsWith("encoder.down.", StringComparison.Ordinal) || name.StartsWith("decoder.up.", StringComparison.Ordinal) || name.StartsWith("encoder.mid.", StringComparison.Ordinal);
            diffusers |= name.StartsWith("encoder.down_blocks.", StringComparison.Ordinal) || name.StartsWith("decoder.up_blocks.", StringComparison.Ordinal) || name.StartsWith("encoder.mid_block.", StringComparison.Ordinal);
        }

        return (bfl, diffusers) switch
        {
            (true, false) => Flux2VaeNaming.Bfl,
            (false, true) => Flux2VaeNaming.Diffusers,
            (true, true) => throw new SafeTensorsException(source, "mixes BFL (encoder.down.*) and diffusers (encoder.down_blocks.*) VAE names."),
            _ => throw new SafeTensorsException(source, "has neither BFL (encoder.down.*) nor diffusers (encoder.down_blocks.*) VAE names; it is not a FLUX.2 VAE checkpoint."),
        };
    }

    internal static string EncoderResnetPrefix(Flux2VaeNaming naming, int level, int block) =>
        naming == Flux2VaeNaming.Bfl ? $"encoder.down.{level}.block.{block}" : $"encoder.down_blocks.{level}.resnets.{block}";

    public string EncoderResnet(int level, int block) => EncoderResnetPrefix(Naming, level, block);

    public string DecoderResnet(int level, int block) =>
        Bfl ? $"decoder.up.{level}.block.{block}" : $"decoder.up_blocks.{Config.Levels - 1 - level}.resnets.{block}";

    /// <summary>The 1×1 conv that matches channels when a ResNet block changes width.</summary>
    public string Shortcut(string resnet) => resnet + (Bfl ? ".nin_shortcut" : ".conv_shortcut");

    public string Downsample(int level) => Bfl ? $"encoder.down.{level}.downsample.conv" : $"encoder.down_blocks.{level}.downsamplers.0.conv";

    public string Upsample(int level) =>
        Bfl ? $"decoder.up.{level}.upsample.conv" : $"decoder.up_blocks.{Config.Levels - 1 - level}.upsamplers.0.conv";

    /// <param name="part">"encoder" or "decoder".</param>
    /// <param name="index">0 before the attention, 1 after it.</param>
    public string MidResnet(string part, int index) => Bfl ? $"{part}.mid.block_{index + 1}" : $"{part}.mid_block.resnets.{index}";

    public string MidAttentionNorm(string part) => Bfl ? $"{part}.mid.attn_1.norm" : $"{part}.mid_block.attentions.0.group_norm";

    /// <param name="projection">q, k, v or out.</param>
    public string MidAttentionProjection(string part, char projection) => (Bfl, projection) switch
    {
        (true, 'o') => $"{part}.mid.attn_1.proj_out",
        (true, _) => $"{part}.mid.attn_1.{projection}",
        (false, 'o') => $"{part}.mid_block.attentions.0.to_out.0",
        (false, _) => $"{part}.mid_block.attentions.0.to_{projection}",
    };

    /// <summary>BFL stores the attention projections as 1×1 convs, diffusers as Linear layers: same bytes, other rank.</summary>
    public long[] AttentionWeightShape(int channels) => Bfl ? [channels, channels, 1, 1] : [channels, channels];

    public string NormOut(string part) => Bfl ? $"{part}.norm_out" : $"{part}.conv_norm_out";

    public string QuantConv => Bfl ? "encoder.quant_conv" : "quant_conv";

    public string PostQuantConv => Bfl ? "decoder.post_quant_conv" : "post_quant_conv";

    /// <summary>Every tensor a checkpoint of this configuration holds (except <see cref="BatchCounter"/>), in diffusers' registration order.</summary>
    public IReadOnlyList<Flux2VaeTensor> ExpectedTensors()
    {
        var bfl = new Flux2VaeWeightNames(Flux2VaeNaming.Bfl, Config);
        var diffusers = new Flux2VaeWeightNames(Flux2VaeNaming.Diffusers, Config);
        var list = new List<Flux2VaeTensor>();

        void Add(Func<Flux2VaeWeightNames, string> name, long[] shape, Flux2VaeTensorKind kind, Flux2VaeHalf half, long[]? bflShape = null) =>
            list.Add(new Flux2VaeTensor(name(this), name(diffusers), Bfl && bflShape is not null ? bflShape : shape, kind, half));

        void Conv(Func<Flux2VaeWeightNames, string> module, int cin, int cout, int kernel, Flux2VaeHalf half)
        {
            Add(n => module(n) + ".weight", [cout, cin, kernel, kernel], Flux2VaeTensorKind.ConvWeight, half);
            Add(n => module(n) + ".bias", [cout], Flux2VaeTensorKind.Bias, half);
        }

        void Norm(Func<Flux2VaeWeightNames, string> module, int channels, Flux2VaeHalf half)
        {
            Add(n => module(n) + ".weight", [channels], Flux2VaeTensorKind.GroupNormScale, half);
            Add(n => module(n) + ".bias", [channels], Flux2VaeTensorKind.GroupNormShift, half);
        }

        void Resnet(Func<Flux2VaeWeightNames, string> module, int cin, int cout, Flux2VaeHalf half)
        {
            Norm(n => module(n) + ".norm1", cin, half);
            Conv(n => module(n) + ".conv1", cin, cout, 3, half);
            Norm(n => module(n) + ".norm2", cout, half);
            Conv(n => module(n) + ".conv2", cout, cout, 3, half);
            if (cin != cout)
            {
                Conv(n => n.Shortcut(module(n)), cin, cout, 1, half);
            }
        }

        void Mid(string part, Flux2VaeHalf half)
        {
            var c = Config.MidChannels;
            Resnet(n => n.MidResnet(part, 0), c, c, half);
            Norm(n => n.MidAttentionNorm(part), c, half);
            foreach (var projection in "qkvo")
            {
                Add(n => n.MidAttentionProjection(part, projection) + ".weight", [c, c], Flux2VaeTensorKind.LinearWeight, half, bflShape: [c, c, 1, 1]);
                Add(n => n.MidAttentionProjection(part, projection) + ".bias", [c], Flux2VaeTensorKind.Bias, half);
            }

            Resnet(n => n.MidResnet(part, 1), c, c, half);
        }

        const Flux2VaeHalf enc = Flux2VaeHalf.Encoder;
        Conv(_ => "encoder.conv_in", Config.ImageChannels, Config.BaseChannels, 3, enc);
        var channels = Config.BaseChannels;
        for (var level = 0; level < Config.Levels; level++)
        {
            var outChannels = Config.LevelChannels(level);
            for (var block = 0; block < Config.EncoderResBlocks; block++)
            {
                var (l, b, cin) = (level, block, channels);
                Resnet(n => n.EncoderResnet(l, b), cin, outChannels, enc);
                channels = outChannels;
            }

            if (level != Config.Levels - 1)
            {
                var l = level;
                Conv(n => n.Downsample(l), channels, channels, 3, enc);
            }
        }

        Mid("encoder", enc);
        Norm(n => n.NormOut("encoder"), Config.MidChannels, enc);
        Conv(_ => "encoder.conv_out", Config.MidChannels, Config.MomentChannels, 3, enc);

        const Flux2VaeHalf dec = Flux2VaeHalf.Decoder;
        Conv(_ => "decoder.conv_in", Config.LatentChannels, Config.MidChannels, 3, dec);
        Mid("decoder", dec);
        channels = Config.MidChannels;
        for (var level = Config.Levels - 1; level >= 0; level--)
        {
            var outChannels = Config.LevelChannels(level);
            for (var block = 0; block < Config.DecoderResBlocks; block++)
            {
                var (l, b, cin) = (level, block, channels);
                Resnet(n => n.DecoderResnet(l, b), cin, outChannels, dec);
                channels = outChannels;
            }

            if (level != 0)
            {
                var l = level;
                Conv(n => n.Upsample(l), channels, channels, 3, dec);
            }
        }

        Norm(n => n.NormOut("decoder"), Config.BaseChannels * Config.ChannelMultipliers[0], dec);
        Conv(_ => "decoder.conv_out", Config.BaseChannels * Config.ChannelMultipliers[0], Config.ImageChannels, 3, dec);

        Conv(n => n.QuantConv, Config.MomentChannels, Config.MomentChannels, 1, enc);
        Conv(n => n.PostQuantConv, Config.LatentChannels, Config.LatentChannels, 1, dec);
        Add(_ => RunningMean, [Config.PatchedLatentChannels], Flux2VaeTensorKind.RunningMean, Flux2VaeHalf.Both);
        Add(_ => RunningVariance, [Config.PatchedLatentChannels], Flux2VaeTensorKind.RunningVariance, Flux2VaeHalf.Both);
        return list;
    }
}
