using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.TextEncoding;

namespace FluxWeb.Inference.Tests.TextEncoding;

public sealed class Qwen3ConfigTests
{
    [Fact]
    public void The_oracle_config_json_reads_as_the_fixture_config()
    {
        var config = Qwen3Config.FromHuggingFaceConfig(TestFixtures.Path("qwen3-tiny", "weights", "config.json"));

        Assert.Equal(Qwen3Config.FixtureTiny, config);
    }

    [Fact]
    public void A_qwen3_4b_style_config_reads_as_the_named_config_and_8b_is_untied()
    {
        const string Qwen3_4B = """
            {"architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "head_dim": 128, "hidden_act": "silu",
             "hidden_size": 2560, "intermediate_size": 9728, "max_position_embeddings": 40960, "model_type": "qwen3",
             "num_attention_heads": 32, "num_hidden_layers": 36, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
             "rope_scaling": null, "rope_theta": 1000000, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
             "use_sliding_window": false, "vocab_size": 151936}
            """;

        Assert.Equal(Qwen3Config.Qwen3_4B, Qwen3Config.ParseHuggingFaceConfig(Qwen3_4B));
        var eightB = Qwen3_4B.Replace("\"hidden_size\": 2560", "\"hidden_size\": 4096", StringComparison.Ordinal)
            .Replace("9728", "12288", StringComparison.Ordinal)
            .Replace("\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false", StringComparison.Ordinal);
        Assert.Equal(Qwen3Config.Qwen3_8B, Qwen3Config.ParseHuggingFaceConfig(eightB));
    }

    [Theory]
    [InlineData("\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4.0}")]
    [InlineData("\"attention_bias\": true")]
    [InlineData("\"model_type\": \"qwen2\"")]
    public void Configs_this_graph_would_compute_wrongly_are_refused(string field)
    {
        var json = $$"""{"hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 28, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 1024, {{field}}}""";

        Assert.Throws<NotSupportedException>(() => Qwen3Config.ParseHuggingFaceConfig(json));
    }

    [Theory]
    [InlineData("qwen3-4b-text-encoder.tsv", "4B")]
    [InlineData("qwen3-8b-text-encoder.tsv", "8B")]
    public void The_name_table_matches_the_official_parameter_tables(string table, string size)
    {
        var config = size == "4B" ? Qwen3Config.Qwen3_4B : Qwen3Config.Qwen3_8B;
        var official = WeightTables.Read(table).ToDictionary(r => r.Name, r => r.Shape, StringComparer.Ordinal);

        var ours = Qwen3WeightNames.All(config).ToDictionary(t => t.Name, t => t.Shape, StringComparer.Ordinal);

        Assert.Equal(official.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        Assert.All(official, pair => Assert.Equal(pair.Value, ours[pair.Key]));
    }

    [Fact]
    public void Layer_indices_are_read_from_names()
    {
        Assert.Equal(27, Qwen3WeightNames.LayerIndexOf("model.layers.27.mlp.up_proj.weight"));
        Assert.Null(Qwen3WeightNames.LayerIndexOf(Qwen3WeightNames.FinalNorm));
        Assert.Null(Qwen3WeightNames.LayerIndexOf("model.layers.x.mlp.up_proj.weight"));
    }

    [Fact]
    public void A_model_of_27_layers_or_fewer_is_refused_because_its_last_hidden_state_is_normed()
    {
        var weights = WeightSet.Open(TestFixtures.Path("qwen3-tiny", "weights", "model.safetensors"));

        var error = Assert.Throws<ArgumentException>(() => Qwen3TextEncoderGraph.Build(weights, Qwen3Config.FixtureTiny with { LayerCount = 27 }, ComputePrecision.Float32, TestFixtures.Path("qwen3-tiny", "weights")));

        Assert.Contains("more than 27 layers", error.Message, StringComparison.Ordinal);
    }
}
