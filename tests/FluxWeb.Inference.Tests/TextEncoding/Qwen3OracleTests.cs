using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.TextEncoding;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.TextEncoding;

/// <summary>
/// The float32 graph against tests/fixtures/qwen3-tiny: transformers' Qwen3 called through BFL's
/// Qwen3Embedder, pad positions included. Tolerances are the fixture README's.
/// </summary>
public sealed class Qwen3OracleTests(ITestOutputHelper output)
{
    private const double MaxAbsTolerance = 5e-5;
    private const double RmsTolerance = 5e-6;
    private static readonly int[] ComparedHiddenStates = [0, 1, 9, 18, 27];

    [Theory]
    [InlineData("text_encoder_padded")]
    [InlineData("text_encoder_nopad")]
    public void Prompt_embeds_match_the_reference_pad_positions_included(string fixtureName)
    {
        using var folder = new TempDirectory();
        var weights = TextEncoderRunner.CopyFixtureWeights(folder.Path);
        var model = TextEncoderRunner.BuildAndSave(weights, Qwen3Config.FixtureTiny, ComputePrecision.Float32, folder.Path, new Qwen3TextEncoderGraphOptions { HiddenStateOutputs = ComparedHiddenStates });
        var fixture = TestFixtures.Open("qwen3-tiny", $"{fixtureName}.safetensors");
        var inputIds = fixture.ReadInt64("input_ids");
        var mask = fixture.ReadInt64("attention_mask");
        var batch = (int)fixture.Get("input_ids").Shape[0];

        var outputs = TextEncoderRunner.Run(model, inputIds, mask, batch);

        // hidden_states_1 is checked against the layer-0 intermediates file by its own test.
        foreach (var k in ComparedHiddenStates.Where(k => k != 1))
        {
            var stats = ErrorStats.Between(fixture.ReadFloat32($"hidden_states_{k}"), outputs[$"hidden_states_{k}"]);
            output.WriteLine($"{fixtureName} hidden_states_{k}: {stats}");
            if (k == 0)
            {
                Assert.Equal(0, stats.MaxAbs);
            }
            else
            {
                Assert.True(stats.MaxAbs <= MaxAbsTolerance, $"hidden_states_{k}: {stats}");
            }
        }

        var expected = fixture.ReadFloat32(Qwen3TextEncoderGraph.OutputName);
        var actual = outputs[Qwen3TextEncoderGraph.OutputName];
        var width = Qwen3TextEncoderGraph.OutputWidth(Qwen3Config.FixtureTiny);
        Assert.Equal(new long[] { batch, inputIds.Length / batch, width }, fixture.Get(Qwen3TextEncoderGraph.OutputName).Shape);
        var all = ErrorStats.Between(expected, actual);
        var (realExpected, realActual, padExpected, padActual) = SplitByMask(expected, actual, mask, width);
        var real = ErrorStats.Between(realExpected, realActual);
        output.WriteLine($"{fixtureName} prompt_embeds: all positions {all}; real tokens {real}" +
            (padExpected.Length > 0 ? $"; pad positions {ErrorStats.Between(padExpected, padActual)}" : "; no pad positions"));
        Assert.True(all.MaxAbs <= MaxAbsTolerance && all.Rms <= RmsTolerance, $"prompt_embeds: {all}");
    }

    [Fact]
    public void Layer_zero_output_and_rotary_tables_match_the_reference_intermediates()
    {
        using var folder = new TempDirectory();
        var weights = TextEncoderRunner.CopyFixtureWeights(folder.Path);
        var model = TextEncoderRunner.BuildAndSave(weights, Qwen3Config.FixtureTiny, ComputePrecision.Float32, folder.Path, new Qwen3TextEncoderGraphOptions { HiddenStateOutputs = [1] });
        var padded = TestFixtures.Open("qwen3-tiny", "text_encoder_padded.safetensors");
        var intermediates = TestFixtures.Open("qwen3-tiny", "text_encoder_layer0_intermediates.safetensors");

        var outputs = TextEncoderRunner.Run(model, padded.ReadInt64("input_ids"), padded.ReadInt64("attention_mask"), batch: 2);

        var layer0 = ErrorStats.Between(intermediates.ReadFloat32("hidden_states_1"), outputs["hidden_states_1"]);
        output.WriteLine($"hidden_states_1 (layer 0 output): {layer0}");
        Assert.True(layer0.MaxAbs <= MaxAbsTolerance, $"hidden_states_1: {layer0}");

        var inverse = ErrorStats.Between(intermediates.ReadFloat32("rope_inv_freq"), Qwen3Rope.InverseFrequencies(Qwen3Config.FixtureTiny));
        var (cos, sin) = Qwen3Rope.Tables(Qwen3Config.FixtureTiny, 512);
        // The reference tables are [512, 16] = cat(freqs, freqs); ours are the first half.
        var cosError = ErrorStats.Between(FirstHalfOfRows(intermediates.ReadFloat32("rope_cos"), 16), cos);
        var sinError = ErrorStats.Between(FirstHalfOfRows(intermediates.ReadFloat32("rope_sin"), 16), sin);
        var reference = intermediates.ReadFloat32("rope_cos");
        Assert.Equal(reference.AsSpan(0, 8).ToArray(), reference.AsSpan(8, 8).ToArray());
        output.WriteLine($"rope inv_freq {inverse}; cos {cosError}; sin {sinError}");
        Assert.Equal(0, inverse.MaxAbs);
        Assert.True(cosError.MaxAbs <= 1e-6 && sinError.MaxAbs <= 1e-6, $"rope tables: cos {cosError}, sin {sinError}");
    }

    [Fact]
    public void Onnx_runtime_refuses_external_data_behind_a_symbolic_link()
    {
        // ORT 1.31 resolves links before its "inside the model folder" check, so a model store cannot
        // link weights into a package folder: they must be real files (or hard links) there.
        using var folder = new TempDirectory();
        var link = Path.Combine(folder.Path, TextEncoderRunner.FixtureWeightsFileName);
        File.CreateSymbolicLink(link, TestFixtures.Path("qwen3-tiny", "weights", TextEncoderRunner.FixtureWeightsFileName));
        var model = TextEncoderRunner.BuildAndSave(WeightSet.Open(link), Qwen3Config.FixtureTiny, ComputePrecision.Float32, folder.Path);

        var error = Assert.Throws<OnnxRuntimeException>(() => new InferenceSession(model).Dispose());

        output.WriteLine(error.Message);
        Assert.Contains("escapes model directory", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Padding_leaves_real_tokens_unchanged_and_pads_see_only_real_tokens()
    {
        // Row 0 of the padded fixture alone, cut to its 17 real tokens: the reference says real
        // positions are bit-identical to the padded batch; ours must agree to rounding as well.
        using var folder = new TempDirectory();
        var weights = TextEncoderRunner.CopyFixtureWeights(folder.Path);
        var model = TextEncoderRunner.BuildAndSave(weights, Qwen3Config.FixtureTiny, ComputePrecision.Float32, folder.Path);
        var padded = TestFixtures.Open("qwen3-tiny", "text_encoder_padded.safetensors");
        var ids = padded.ReadInt64("input_ids");
        var mask = padded.ReadInt64("attention_mask");
        const int realTokens = 17;
        Assert.Equal(realTokens, mask.Take(512).Sum());

        var alone = TextEncoderRunner.Run(model, ids[..realTokens], mask[..realTokens], batch: 1)[Qwen3TextEncoderGraph.OutputName];
        var batched = TextEncoderRunner.Run(model, ids, mask, batch: 2)[Qwen3TextEncoderGraph.OutputName];

        var stats = ErrorStats.Between(alone, batched.AsSpan(0, realTokens * 192));
        output.WriteLine($"row 0 alone (17 tokens, no pads) vs in the padded batch: {stats}");
        Assert.True(stats.MaxAbs <= 1e-5, stats.ToString());
    }

    [Fact]
    public void A_row_with_no_real_token_stays_finite()
    {
        // Every score of such a row gets float32.MinValue, so softmax is uniform, as in the reference;
        // with −inf it would be NaN. Klein never sends one (the template always has real tokens), a caller might.
        using var folder = new TempDirectory();
        var weights = TextEncoderRunner.CopyFixtureWeights(folder.Path);
        var model = TextEncoderRunner.BuildAndSave(weights, Qwen3Config.FixtureTiny, ComputePrecision.Float32, folder.Path);
        var ids = Enumerable.Range(0, 64).Select(i => (long)(i * 13 % 1024)).ToArray();

        var embeds = TextEncoderRunner.Run(model, ids, new long[64], batch: 1)[Qwen3TextEncoderGraph.OutputName];

        Assert.All(embeds, v => Assert.True(float.IsFinite(v)));
    }

    private static (float[] RealExpected, float[] RealActual, float[] PadExpected, float[] PadActual) SplitByMask(float[] expected, float[] actual, long[] mask, int width)
    {
        var real = new List<int>();
        var pad = new List<int>();
        for (var position = 0; position < mask.Length; position++)
        {
            (mask[position] != 0 ? real : pad).Add(position);
        }

        float[] Gather(float[] source, List<int> positions) => [.. positions.SelectMany(p => source.AsSpan(p * width, width).ToArray())];
        return (Gather(expected, real), Gather(actual, real), Gather(expected, pad), Gather(actual, pad));
    }

    private static float[] FirstHalfOfRows(float[] table, int rowWidth) =>
        [.. Enumerable.Range(0, table.Length / rowWidth).SelectMany(row => table.AsSpan(row * rowWidth, rowWidth / 2).ToArray())];
}
