using System.Security.Cryptography;
using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.TextEncoding;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.TextEncoding;

/// <summary>The demo model: seeded random weights with the real vocabulary, run end to end from a real prompt.</summary>
public sealed class Qwen3DemoTinyTests(ITestOutputHelper output)
{
    private const ulong Seed = 20250101;

    /// <summary>The demo package's weights; a change here changes every demo output, so update it only on purpose.</summary>
    private const string PinnedF32Sha256 = "c04719785204c10f14d969c9303ea6c63d62284e731a888ef80268cbeb063bf4";

    [Theory]
    [InlineData(SafeTensorDType.F32)]
    [InlineData(SafeTensorDType.BF16)]
    public void Seeded_weights_encode_a_tokenized_prompt_into_finite_embeddings(SafeTensorDType storage)
    {
        using var folder = new TempDirectory();
        var weightsPath = folder.Combine("model.safetensors");
        Qwen3RandomWeights.Write(weightsPath, Qwen3Config.DemoTiny, Seed, storage);
        var weights = WeightSet.Open(weightsPath);
        var model = TextEncoderRunner.BuildAndSave(weights, Qwen3Config.DemoTiny, ComputePrecision.Float32, folder.Path, new Qwen3TextEncoderGraphOptions { HiddenStateOutputs = [0, 27] });
        var tokens = TextEncoderRunner.SharedTokenizer.Encode("a photo of a cat wearing a tiny wizard hat");

        var outputs = TextEncoderRunner.Run(model, tokens.InputIds, tokens.AttentionMask, batch: 1);

        var embeds = outputs[Qwen3TextEncoderGraph.OutputName];
        Assert.Equal(KleinPromptTokenizer.MaxLength * Qwen3TextEncoderGraph.OutputWidth(Qwen3Config.DemoTiny), embeds.Length);
        Assert.All(embeds, v => Assert.True(float.IsFinite(v)));
        var embeddingRms = Rms(outputs["hidden_states_0"]);
        var lastRms = Rms(outputs["hidden_states_27"]);
        output.WriteLine($"DemoTiny ({storage}, {new FileInfo(weightsPath).Length / 1e6:F1} MB): {tokens.RealTokenCount} real tokens; RMS hidden_states_0 {embeddingRms:F3}, hidden_states_27 {lastRms:F3}, prompt_embeds {Rms(embeds):F3}");
        Assert.InRange(lastRms, 0.1, 10);
        Assert.True(new FileInfo(weightsPath).Length < 25_000_000);

        // The pads are real outputs too: they differ from the real tokens and from each other (own RoPE position).
        var width = Qwen3TextEncoderGraph.OutputWidth(Qwen3Config.DemoTiny);
        var firstPad = embeds.AsSpan(tokens.RealTokenCount * width, width).ToArray();
        var lastPad = embeds.AsSpan((KleinPromptTokenizer.MaxLength - 1) * width, width).ToArray();
        Assert.False(firstPad.AsSpan().SequenceEqual(lastPad));
    }

    [Fact]
    public void The_same_seed_gives_identical_bytes_and_another_seed_does_not()
    {
        using var folder = new TempDirectory();
        string Write(string name, ulong seed, SafeTensorDType dtype)
        {
            var path = folder.Combine(name);
            Qwen3RandomWeights.Write(path, Qwen3Config.DemoTiny, seed, dtype);
            return Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
        }

        var first = Write("a.safetensors", Seed, SafeTensorDType.F32);
        var again = Write("b.safetensors", Seed, SafeTensorDType.F32);
        var other = Write("c.safetensors", Seed + 1, SafeTensorDType.F32);
        var bf16 = Write("d.safetensors", Seed, SafeTensorDType.BF16);

        output.WriteLine($"DemoTiny seed {Seed}: F32 sha256 {first}, BF16 sha256 {bf16}");
        Assert.Equal(first, again);
        Assert.Equal(PinnedF32Sha256, first);
        Assert.NotEqual(first, other);
        Assert.Equal(bf16, Write("e.safetensors", Seed, SafeTensorDType.BF16));
    }

    [Fact]
    public void Random_weights_follow_the_checkpoint_layout_and_statistics()
    {
        using var folder = new TempDirectory();
        var path = folder.Combine("model.safetensors");
        Qwen3RandomWeights.Write(path, Qwen3Config.FixtureTiny, Seed);
        var file = SafeTensorsFile.Open(path);

        // Same names and shapes as the transformers checkpoint of the oracle (tied: no lm_head).
        var reference = TestFixtures.Open("qwen3-tiny", "weights", "model.safetensors");
        Assert.Equal(reference.Tensors.Keys.Order(StringComparer.Ordinal), file.Tensors.Keys.Order(StringComparer.Ordinal));
        Assert.All(reference.Tensors.Values, t => Assert.Equal(t.Shape, file.Get(t.Name).Shape));

        var norm = file.ReadFloat32(Qwen3WeightNames.Layer(5).InputNorm);
        Assert.All(norm, v => Assert.InRange(v, 0.9f, 1.1f));
        var down = file.ReadFloat32(Qwen3WeightNames.Layer(5).DownProjection);
        var expectedSigma = 0.5 / Math.Sqrt(Qwen3Config.FixtureTiny.IntermediateSize);
        Assert.InRange(Rms(down), expectedSigma * 0.95, expectedSigma * 1.05);
        Assert.InRange(down.Average(), -expectedSigma * 0.05, expectedSigma * 0.05);
    }

    private static double Rms(float[] values) => Math.Sqrt(values.Average(v => (double)v * v));
}
