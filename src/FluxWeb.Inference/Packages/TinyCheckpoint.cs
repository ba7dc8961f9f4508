using System.Text.Json;
using System.Text.Json.Nodes;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.TextEncoding;
using FluxWeb.Inference.Transformer;
using FluxWeb.Inference.Vae;

namespace FluxWeb.Inference.Packages;

/// <summary>
/// Writes klein checkpoints at the demo package's tiny size in the official file layouts: the
/// diffusers repo folder (BF16 transformer, BF16 text encoder in two shards with an index, F32 VAE,
/// the real tokenizer, configs, model_index.json) and BFL's single transformer file, BF16 or FP8
/// (F8_E4M3 block linears with F32 <c>weight_scale</c>/<c>input_scale</c> scalars). <c>models
/// build</c> and <c>models pull</c> are exercised end to end on these without 20 GB of downloads.
/// </summary>
public static class TinyCheckpoint
{
    public const ulong DefaultSeed = 20260301;

    public static Qwen3Config TextEncoderConfig => Qwen3Config.DemoTiny;

    public static Flux2TransformerConfig TransformerConfig { get; } = Flux2TransformerConfig.DemoTiny(Qwen3TextEncoderGraph.OutputWidth(Qwen3Config.DemoTiny));

    public static Flux2VaeConfig VaeConfig => Flux2VaeConfig.DemoTiny;

    /// <summary>The real Qwen3 tokenizer.json these checkpoints use (the one shipped with FluxWeb).</summary>
    public static string TokenizerPath => KleinPromptTokenizer.BundledTokenizerPath;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The Hugging Face repo layout of FLUX.2-klein-4B, at the tiny size.</summary>
    public static void WriteDiffusers(string folder, ulong seed = DefaultSeed, bool distilled = true)
    {
        WriteDiffusersTransformer(Path.Combine(folder, "transformer"), seed);
        WriteTextEncoder(Path.Combine(folder, "text_encoder"), seed);
        var vae = Path.Combine(folder, "vae");
        Directory.CreateDirectory(vae);
        WriteVae(Path.Combine(vae, "diffusion_pytorch_model.safetensors"), seed);
        WriteJson(Path.Combine(vae, "config.json"), new JsonObject
        {
            ["_class_name"] = "AutoencoderKLFlux2",
            ["in_channels"] = VaeConfig.ImageChannels,
            ["out_channels"] = VaeConfig.ImageChannels,
            ["latent_channels"] = VaeConfig.LatentChannels,
            ["layers_per_block"] = VaeConfig.ResBlocks,
            ["norm_num_groups"] = VaeConfig.Groups,
            ["block_out_channels"] = new JsonArray([.. Enumerable.Range(0, VaeConfig.Levels).Select(l => (JsonNode)VaeConfig.LevelChannels(l))]),
        });
        var tokenizer = Path.Combine(folder, "tokenizer");
        Directory.CreateDirectory(tokenizer);
        File.Copy(KleinPromptTokenizer.BundledTokenizerPath, Path.Combine(tokenizer, "tokenizer.json"), overwrite: true);
        WriteJson(Path.Combine(tokenizer, "tokenizer_config.json"), new JsonObject { ["tokenizer_class"] = "Qwen2Tokenizer", ["model_max_length"] = 131072 });
        WriteJson(Path.Combine(folder, "model_index.json"), new JsonObject
        {
            ["_class_name"] = "Flux2KleinPipeline",
            ["is_distilled"] = distilled,
            ["scheduler"] = new JsonArray("diffusers", "FlowMatchEulerDiscreteScheduler"),
            ["text_encoder"] = new JsonArray("transformers", "Qwen3ForCausalLM"),
            ["tokenizer"] = new JsonArray("transformers", "Qwen2TokenizerFast"),
            ["transformer"] = new JsonArray("diffusers", "Flux2Transformer2DModel"),
            ["vae"] = new JsonArray("diffusers", "AutoencoderKLFlux2"),
        });
    }

    /// <summary><c>transformer/</c>: config.json and one BF16 diffusion_pytorch_model.safetensors.</summary>
    public static void WriteDiffusersTransformer(string folder, ulong seed = DefaultSeed)
    {
        Directory.CreateDirectory(folder);
        var writer = new SafeTensorsWriter();
        foreach (var (name, shape, values) in DiffusersValues(seed))
        {
            writer.AddBFloat16(name, shape, values);
        }

        writer.Write(Path.Combine(folder, "diffusion_pytorch_model.safetensors"), new Dictionary<string, string> { ["format"] = "pt" });
        var c = TransformerConfig;
        WriteJson(Path.Combine(folder, "config.json"), new JsonObject
        {
            ["_class_name"] = "Flux2Transformer2DModel",
            ["attention_head_dim"] = c.HeadDim,
            ["axes_dims_rope"] = new JsonArray([.. c.AxesDim.Select(a => (JsonNode)a)]),
            ["eps"] = 1e-6,
            ["guidance_embeds"] = false,
            ["in_channels"] = c.InChannels,
            ["joint_attention_dim"] = c.ContextDim,
            ["mlp_ratio"] = c.MlpRatio,
            ["num_attention_heads"] = c.Heads,
            ["num_layers"] = c.DoubleBlocks,
            ["num_single_layers"] = c.SingleBlocks,
            ["patch_size"] = 1,
            ["rope_theta"] = c.Theta,
            ["timestep_guidance_channels"] = c.TimestepDim,
        });
    }

    /// <summary>
    /// BFL's single file: root-level BFL names (fused qkv, adaLN rows [shift; scale]), BF16; with
    /// <paramref name="fp8"/> every block linear is F8_E4M3 with a per-tensor scale, like the official -fp8 files;
    /// with <paramref name="nvfp4"/> every block linear is NVFP4 in ComfyUI's storage, like the official -nvfp4 files
    /// (see <see cref="Nvfp4"/>; quantized the way comfy_kitchen does).
    /// </summary>
    public static void WriteBflTransformer(string path, ulong seed = DefaultSeed, bool fp8 = false, bool nvfp4 = false)
    {
        var diffusers = DiffusersValues(seed).ToDictionary(t => t.Name, t => (t.Shape, t.Values), StringComparer.Ordinal);
        var writer = new SafeTensorsWriter();
        var quantizedLayers = new JsonObject();

        void Plain(string bflName, string diffusersName)
        {
            var (shape, values) = diffusers[diffusersName];
            writer.AddBFloat16(bflName, shape, values);
        }

        void Linear(string bflName, long[] shape, float[] values)
        {
            if (nvfp4)
            {
                var (packed, tiledScales, tensorScale) = QuantizeNvfp4Comfy(values, (int)shape[0], (int)shape[1]);
                var (tiledRows, tiledColumns) = Nvfp4.TiledScaleShape(shape[0], shape[1] / Nvfp4.BlockSize);
                writer.Add(bflName + ".weight", SafeTensorDType.U8, [shape[0], shape[1] / 2], packed);
                writer.Add(bflName + ".weight_scale", SafeTensorDType.F8_E4M3, [tiledRows, tiledColumns], tiledScales);
                writer.AddFloat32(bflName + ".weight_scale_2", [], [tensorScale]);
                writer.AddFloat32(bflName + ".input_scale", [], [1f]);
                quantizedLayers[bflName] = new JsonObject { ["format"] = "nvfp4" };
                return;
            }

            if (!fp8)
            {
                writer.AddBFloat16(bflName + ".weight", shape, values);
                return;
            }

            var scale = values.Max(Math.Abs) / 448f;
            writer.Add(bflName + ".weight", SafeTensorDType.F8_E4M3, shape, values.Select(v => TensorConversion.FloatToFloat8E4M3Fn(v / scale)).ToArray());
            writer.AddFloat32(bflName + ".weight_scale", [], [scale]);
            writer.AddFloat32(bflName + ".input_scale", [], [1f]);
        }

        void Fused(string bflName, params string[] parts)
        {
            var shapes = parts.Select(p => diffusers[p].Shape).ToList();
            Linear(bflName, [shapes.Sum(s => s[0]), shapes[0][1]], [.. parts.SelectMany(p => diffusers[p].Values)]);
        }

        void Renamed(string bflName, string diffusersName)
        {
            var (shape, values) = diffusers[diffusersName];
            Linear(bflName, shape, values);
        }

        var c = TransformerConfig;
        Plain("img_in.weight", "x_embedder.weight");
        Plain("txt_in.weight", "context_embedder.weight");
        Plain("time_in.in_layer.weight", "time_guidance_embed.timestep_embedder.linear_1.weight");
        Plain("time_in.out_layer.weight", "time_guidance_embed.timestep_embedder.linear_2.weight");
        Plain("double_stream_modulation_img.lin.weight", "double_stream_modulation_img.linear.weight");
        Plain("double_stream_modulation_txt.lin.weight", "double_stream_modulation_txt.linear.weight");
        Plain("single_stream_modulation.lin.weight", "single_stream_modulation.linear.weight");
        Plain("final_layer.linear.weight", "proj_out.weight");
        var (normOutShape, normOut) = diffusers["norm_out.linear.weight"];
        var half = normOut.Length / 2;
        writer.AddBFloat16("final_layer.adaLN_modulation.1.weight", normOutShape, [.. normOut[half..], .. normOut[..half]]);

        for (var b = 0; b < c.DoubleBlocks; b++)
        {
            var d = $"transformer_blocks.{b}.";
            var p = $"double_blocks.{b}.";
            Fused(p + "img_attn.qkv", d + "attn.to_q.weight", d + "attn.to_k.weight", d + "attn.to_v.weight");
            Fused(p + "txt_attn.qkv", d + "attn.add_q_proj.weight", d + "attn.add_k_proj.weight", d + "attn.add_v_proj.weight");
            Renamed(p + "img_attn.proj", d + "attn.to_out.0.weight");
            Renamed(p + "txt_attn.proj", d + "attn.to_add_out.weight");
            Renamed(p + "img_mlp.0", d + "ff.linear_in.weight");
            Renamed(p + "img_mlp.2", d + "ff.linear_out.weight");
            Renamed(p + "txt_mlp.0", d + "ff_context.linear_in.weight");
            Renamed(p + "txt_mlp.2", d + "ff_context.linear_out.weight");
            Plain(p + "img_attn.norm.query_norm.scale", d + "attn.norm_q.weight");
            Plain(p + "img_attn.norm.key_norm.scale", d + "attn.norm_k.weight");
            Plain(p + "txt_attn.norm.query_norm.scale", d + "attn.norm_added_q.weight");
            Plain(p + "txt_attn.norm.key_norm.scale", d + "attn.norm_added_k.weight");
        }

        for (var b = 0; b < c.SingleBlocks; b++)
        {
            var d = $"single_transformer_blocks.{b}.attn.";
            var p = $"single_blocks.{b}.";
            Renamed(p + "linear1", d + "to_qkv_mlp_proj.weight");
            Renamed(p + "linear2", d + "to_out.weight");
            Plain(p + "norm.query_norm.scale", d + "norm_q.weight");
            Plain(p + "norm.key_norm.scale", d + "norm_k.weight");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        writer.Write(path, nvfp4
            ? new Dictionary<string, string> { [Nvfp4.QuantizationMetadataKey] = new JsonObject { ["format_version"] = "1.0", ["layers"] = quantizedLayers }.ToJsonString() }
            : fp8 ? new Dictionary<string, string> { ["_quantization_metadata"] = "{\"format_version\": \"1.0\"}" } : null);
    }

    /// <summary>
    /// comfy_kitchen's NVFP4 quantization of a [rows, columns] weight: a tensor scale max|W| / (6·448),
    /// per block of 16 an E4M3 scale max|block| / 6 / tensor scale, values rounded to the nearest E2M1;
    /// stored as ComfyUI does: first value of a pair in the high nibble, block scales tiled 128×4.
    /// </summary>
    public static (byte[] Packed, byte[] TiledScales, float TensorScale) QuantizeNvfp4Comfy(float[] values, int rows, int columns)
    {
        var tensorScale = Math.Max(values.Max(Math.Abs), 1e-12f) / (6f * 448f);
        var blockColumns = columns / Nvfp4.BlockSize;
        var (tiledRows, tiledColumns) = Nvfp4.TiledScaleShape(rows, blockColumns);
        var tiled = new byte[tiledRows * tiledColumns];
        var packed = new byte[rows * columns / 2];
        for (var r = 0; r < rows; r++)
        {
            for (var b = 0; b < blockColumns; b++)
            {
                var start = r * columns + b * Nvfp4.BlockSize;
                var amax = values.AsSpan(start, Nvfp4.BlockSize).ToArray().Max(Math.Abs);
                var scaleCode = TensorConversion.FloatToFloat8E4M3Fn(Math.Min(amax / 6f / tensorScale, 448f));
                tiled[Nvfp4.TiledIndex(r, b, tiledColumns)] = scaleCode;
                var total = TensorConversion.Float8E4M3FnToFloat(scaleCode) * tensorScale;
                for (var i = 0; i < Nvfp4.BlockSize; i++)
                {
                    var code = NearestE2M1(total == 0 ? 0 : values[start + i] / total);
                    var index = start + i;
                    packed[index / 2] |= (byte)(index % 2 == 0 ? code << 4 : code);
                }
            }
        }

        return (packed, tiled, tensorScale);
    }

    private static byte NearestE2M1(float value)
    {
        var best = 0;
        for (var code = 1; code < 16; code++)
        {
            if (Math.Abs(Nvfp4.E2M1[code] - value) < Math.Abs(Nvfp4.E2M1[best] - value))
            {
                best = code;
            }
        }

        return (byte)best;
    }

    /// <summary><c>text_encoder/</c>: a Qwen3 config.json and BF16 weights in two shards named by model.safetensors.index.json.</summary>
    public static void WriteTextEncoder(string folder, ulong seed = DefaultSeed)
    {
        Directory.CreateDirectory(folder);
        var whole = Path.Combine(folder, $".whole-{Guid.NewGuid():N}.safetensors");
        try
        {
            Qwen3RandomWeights.Write(whole, TextEncoderConfig, seed, SafeTensorDType.BF16);
            var file = SafeTensorsFile.Open(whole);
            var names = Qwen3WeightNames.All(TextEncoderConfig).Select(t => t.Name).ToList();
            var split = names.Count / 2;
            var shards = new[] { (Name: "model-00001-of-00002.safetensors", Tensors: names[..split]), (Name: "model-00002-of-00002.safetensors", Tensors: names[split..]) };
            var weightMap = new JsonObject();
            long total = 0;
            foreach (var (shardName, tensors) in shards)
            {
                var writer = new SafeTensorsWriter();
                foreach (var name in tensors)
                {
                    var info = file.Get(name);
                    writer.Add(name, info.DType, info.Shape, file.ReadBytes(name));
                    weightMap[name] = shardName;
                    total += info.Length;
                }

                writer.Write(Path.Combine(folder, shardName), new Dictionary<string, string> { ["format"] = "pt" });
            }

            WriteJson(Path.Combine(folder, "model.safetensors.index.json"), new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = total }, ["weight_map"] = weightMap });
        }
        finally
        {
            File.Delete(whole);
        }

        var t = TextEncoderConfig;
        WriteJson(Path.Combine(folder, "config.json"), new JsonObject
        {
            ["architectures"] = new JsonArray("Qwen3ForCausalLM"),
            ["model_type"] = "qwen3",
            ["attention_bias"] = false,
            ["hidden_act"] = "silu",
            ["hidden_size"] = t.HiddenSize,
            ["intermediate_size"] = t.IntermediateSize,
            ["num_hidden_layers"] = t.LayerCount,
            ["num_attention_heads"] = t.HeadCount,
            ["num_key_value_heads"] = t.KeyValueHeadCount,
            ["head_dim"] = t.HeadDim,
            ["vocab_size"] = t.VocabularySize,
            ["rms_norm_eps"] = t.RmsNormEpsilon,
            ["rope_theta"] = t.RopeTheta,
            ["rope_scaling"] = null,
            ["tie_word_embeddings"] = t.TieWordEmbeddings,
            ["use_sliding_window"] = false,
            ["torch_dtype"] = "bfloat16",
        });
    }

    public static void WriteVae(string path, ulong seed = DefaultSeed, Flux2VaeNaming naming = Flux2VaeNaming.Diffusers) =>
        Flux2VaeRandomWeights.Write(path, VaeConfig, seed + 2, naming);

    private static IEnumerable<(string Name, long[] Shape, float[] Values)> DiffusersValues(ulong seed)
    {
        var temporary = Path.Combine(Path.GetTempPath(), $"fluxweb-tiny-transformer-{Guid.NewGuid():N}.safetensors");
        try
        {
            Flux2TransformerRandomWeights.Write(temporary, TransformerConfig, seed + 1);
            var file = SafeTensorsFile.Open(temporary);
            return Flux2TransformerRandomWeights.DiffusersTensors(TransformerConfig)
                .Select(t => (t.Name, t.Shape, file.ReadFloat32(t.Name)))
                .ToList();
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private static void WriteJson(string path, JsonObject json) => File.WriteAllText(path, json.ToJsonString(Indented) + "\n");
}
