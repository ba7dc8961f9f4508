using FluxWeb.Inference.SafeTensors;

namespace FluxWeb.Inference.Transformer;

public enum Flux2Naming
{
    /// <summary>Black Forest Labs' own names (single-file checkpoints, fused qkv, adaLN rows [shift; scale]).</summary>
    Bfl,

    /// <summary>diffusers' Flux2Transformer2DModel names (Hugging Face repos; split q/k/v, norm_out rows [scale; shift]).</summary>
    Diffusers,
}

/// <summary>Where each logical weight of the transformer lives under one naming scheme (and an optional key prefix).</summary>
public sealed class Flux2WeightNames
{
    private static readonly string[] KnownPrefixes = ["", "model.diffusion_model.", "diffusion_model.", "transformer."];

    private Flux2WeightNames(Flux2Naming naming, string prefix, bool fp8, bool nvfp4 = false)
    {
        Naming = naming;
        Prefix = prefix;
        IsFp8 = fp8;
        IsNvfp4 = nvfp4;
    }

    public Flux2Naming Naming { get; }

    public string Prefix { get; }

    /// <summary>Some linears are stored as FLOAT8E4M3 with a per-tensor weight_scale (BFL's official -fp8 files).</summary>
    public bool IsFp8 { get; }

    /// <summary>Some linears are stored as NVFP4: packed E2M1 pairs, FP8 scales per 16 inputs and a global weight_scale_2.</summary>
    public bool IsNvfp4 { get; }

    public static Flux2WeightNames Detect(WeightSet weights)
    {
        foreach (var prefix in KnownPrefixes)
        {
            if (weights.Contains(prefix + "img_in.weight"))
            {
                // Mixed files exist (some layers NVFP4, others FP8 or BF16): which linear is quantized how is decided per layer.
                var nvfp4 = weights.Names.Any(n => n.EndsWith(".weight_scale_2", StringComparison.Ordinal));
                var fp8 = weights.Names.Any(n => n.EndsWith(".weight", StringComparison.Ordinal) && weights.Get(n).Info.DType is SafeTensorDType.F8_E4M3);
                return new Flux2WeightNames(Flux2Naming.Bfl, prefix, fp8, nvfp4);
            }

            if (weights.Contains(prefix + "x_embedder.weight"))
            {
                return new Flux2WeightNames(Flux2Naming.Diffusers, prefix, fp8: false);
            }
        }

        throw new SafeTensorsException(Path.GetFileName(weights.Source), "is not a FLUX.2 transformer checkpoint: neither 'img_in.weight' (BFL names) nor 'x_embedder.weight' (diffusers names) is present.");
    }

    public string ImageIn => Prefix + (Naming == Flux2Naming.Bfl ? "img_in.weight" : "x_embedder.weight");

    public string TextIn => Prefix + (Naming == Flux2Naming.Bfl ? "txt_in.weight" : "context_embedder.weight");

    public string TimeIn1 => Prefix + (Naming == Flux2Naming.Bfl ? "time_in.in_layer.weight" : "time_guidance_embed.timestep_embedder.linear_1.weight");

    public string TimeIn2 => Prefix + (Naming == Flux2Naming.Bfl ? "time_in.out_layer.weight" : "time_guidance_embed.timestep_embedder.linear_2.weight");

    public string DoubleModulation(string stream) => Prefix + $"double_stream_modulation_{stream}.{Lin}.weight";

    public string SingleModulation => Prefix + $"single_stream_modulation.{Lin}.weight";

    public string FinalModulation => Prefix + (Naming == Flux2Naming.Bfl ? "final_layer.adaLN_modulation.1.weight" : "norm_out.linear.weight");

    /// <summary>BFL stores the final modulation as [shift; scale]; diffusers swapped the halves to [scale; shift].</summary>
    public bool FinalShiftFirst => Naming == Flux2Naming.Bfl;

    public string FinalLinear => Prefix + (Naming == Flux2Naming.Bfl ? "final_layer.linear.weight" : "proj_out.weight");

    private string Lin => Naming == Flux2Naming.Bfl ? "lin" : "linear";

    /// <summary>One fused [3H, H] qkv weight (BFL) or null when q, k, v are separate (diffusers).</summary>
    public string? FusedQkv(int block, bool text) =>
        Naming == Flux2Naming.Bfl ? Prefix + $"double_blocks.{block}.{(text ? "txt" : "img")}_attn.qkv.weight" : null;

    public (string Q, string K, string V) SplitQkv(int block, bool text) => text
        ? (Double(block, "attn.add_q_proj.weight"), Double(block, "attn.add_k_proj.weight"), Double(block, "attn.add_v_proj.weight"))
        : (Double(block, "attn.to_q.weight"), Double(block, "attn.to_k.weight"), Double(block, "attn.to_v.weight"));

    public string AttentionOut(int block, bool text) => Naming == Flux2Naming.Bfl
        ? Prefix + $"double_blocks.{block}.{(text ? "txt" : "img")}_attn.proj.weight"
        : Double(block, text ? "attn.to_add_out.weight" : "attn.to_out.0.weight");

    public (string Query, string Key) DoubleQkNorm(int block, bool text) => Naming == Flux2Naming.Bfl
        ? (Prefix + $"double_blocks.{block}.{(text ? "txt" : "img")}_attn.norm.query_norm.scale", Prefix + $"double_blocks.{block}.{(text ? "txt" : "img")}_attn.norm.key_norm.scale")
        : text
            ? (Double(block, "attn.norm_added_q.weight"), Double(block, "attn.norm_added_k.weight"))
            : (Double(block, "attn.norm_q.weight"), Double(block, "attn.norm_k.weight"));

    public (string In, string Out) DoubleMlp(int block, bool text) => Naming == Flux2Naming.Bfl
        ? (Prefix + $"double_blocks.{block}.{(text ? "txt" : "img")}_mlp.0.weight", Prefix + $"double_blocks.{block}.{(text ? "txt" : "img")}_mlp.2.weight")
        : (Double(block, $"{(text ? "ff_context" : "ff")}.linear_in.weight"), Double(block, $"{(text ? "ff_context" : "ff")}.linear_out.weight"));

    public string SingleIn(int block) => Naming == Flux2Naming.Bfl ? Prefix + $"single_blocks.{block}.linear1.weight" : Single(block, "attn.to_qkv_mlp_proj.weight");

    public string SingleOut(int block) => Naming == Flux2Naming.Bfl ? Prefix + $"single_blocks.{block}.linear2.weight" : Single(block, "attn.to_out.weight");

    public (string Query, string Key) SingleQkNorm(int block) => Naming == Flux2Naming.Bfl
        ? (Prefix + $"single_blocks.{block}.norm.query_norm.scale", Prefix + $"single_blocks.{block}.norm.key_norm.scale")
        : (Single(block, "attn.norm_q.weight"), Single(block, "attn.norm_k.weight"));

    /// <summary>The per-tensor scale of an FP8 weight (same name with weight_scale).</summary>
    public string? ScaleOf(string weightName) => (IsFp8 || IsNvfp4) && weightName.EndsWith(".weight", StringComparison.Ordinal)
        ? weightName[..^".weight".Length] + ".weight_scale"
        : null;

    /// <summary>The global (second-level) scale of an NVFP4 weight.</summary>
    public string? GlobalScaleOf(string weightName) => IsNvfp4 && weightName.EndsWith(".weight", StringComparison.Ordinal)
        ? weightName[..^".weight".Length] + ".weight_scale_2"
        : null;

    private string Double(int block, string rest) => Prefix + $"transformer_blocks.{block}.{rest}";

    private string Single(int block, string rest) => Prefix + $"single_transformer_blocks.{block}.{rest}";
}
