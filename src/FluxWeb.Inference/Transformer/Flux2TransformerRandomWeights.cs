using System.Globalization;
using FluxWeb.Inference.Randomness;
using FluxWeb.Inference.SafeTensors;

namespace FluxWeb.Inference.Transformer;

/// <summary>
/// The tensors of a FLUX.2 transformer of any size under diffusers' names (the Hugging Face layout),
/// and seeded random weights for them: the demo package runs klein's real graph on these.
/// </summary>
public static class Flux2TransformerRandomWeights
{
    public static IEnumerable<(string Name, long[] Shape)> DiffusersTensors(Flux2TransformerConfig c)
    {
        long h = c.Hidden, m = c.MlpHidden, d = c.HeadDim;
        yield return ("x_embedder.weight", [h, c.InChannels]);
        yield return ("context_embedder.weight", [h, c.ContextDim]);
        yield return ("time_guidance_embed.timestep_embedder.linear_1.weight", [h, c.TimestepDim]);
        yield return ("time_guidance_embed.timestep_embedder.linear_2.weight", [h, h]);
        yield return ("double_stream_modulation_img.linear.weight", [6 * h, h]);
        yield return ("double_stream_modulation_txt.linear.weight", [6 * h, h]);
        yield return ("single_stream_modulation.linear.weight", [3 * h, h]);
        for (var b = 0; b < c.DoubleBlocks; b++)
        {
            var p = $"transformer_blocks.{b}.";
            foreach (var name in new[] { "attn.to_q", "attn.to_k", "attn.to_v", "attn.add_q_proj", "attn.add_k_proj", "attn.add_v_proj", "attn.to_out.0", "attn.to_add_out" })
            {
                yield return (p + name + ".weight", [h, h]);
            }

            foreach (var name in new[] { "attn.norm_q", "attn.norm_k", "attn.norm_added_q", "attn.norm_added_k" })
            {
                yield return (p + name + ".weight", [d]);
            }

            yield return (p + "ff.linear_in.weight", [2 * m, h]);
            yield return (p + "ff.linear_out.weight", [h, m]);
            yield return (p + "ff_context.linear_in.weight", [2 * m, h]);
            yield return (p + "ff_context.linear_out.weight", [h, m]);
        }

        for (var b = 0; b < c.SingleBlocks; b++)
        {
            var p = $"single_transformer_blocks.{b}.attn.";
            yield return (p + "to_qkv_mlp_proj.weight", [3 * h + 2 * m, h]);
            yield return (p + "to_out.weight", [h, h + m]);
            yield return (p + "norm_q.weight", [d]);
            yield return (p + "norm_k.weight", [d]);
        }

        yield return ("norm_out.linear.weight", [2 * h, h]);
        yield return ("proj_out.weight", [c.InChannels, h]);
    }

    /// <summary>
    /// Like the reference oracle's tiny model: linears N(0, 0.05²) except the timestep embedder and
    /// every modulation at N(0, 0.2²) (so the gates really open), QK-norm scales U(0.9, 1.1).
    /// </summary>
    public static void Write(string path, Flux2TransformerConfig config, ulong seed)
    {
        config.Validate();
        var writer = new SafeTensorsWriter();
        foreach (var (name, shape) in DiffusersTensors(config))
        {
            var random = SplitMix64.ForName(seed, name);
            var values = new float[checked((int)shape.Aggregate(1L, (a, b) => a * b))];
            var modulation = name.Contains("modulation", StringComparison.Ordinal) || name.StartsWith("time_guidance_embed", StringComparison.Ordinal) || name.StartsWith("norm_out", StringComparison.Ordinal);
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = shape.Length == 1
                    ? (float)(0.9 + 0.2 * random.NextUnit())
                    : (float)(random.NextIrwinHall4() * (modulation ? 0.2 : 0.05));
            }

            writer.AddFloat32(name, shape, values);
        }

        writer.Write(path, new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["fluxweb.generator"] = "seeded random FLUX.2 transformer",
            ["fluxweb.seed"] = seed.ToString(CultureInfo.InvariantCulture),
        });
    }
}
