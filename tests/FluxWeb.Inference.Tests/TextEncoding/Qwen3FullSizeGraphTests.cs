using System.Diagnostics;
using System.Text.Json;
using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.TextEncoding;
using Xunit.Abstractions;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Tests.TextEncoding;

/// <summary>
/// The real Qwen3-4B and Qwen3-8B layouts (sparse files from the official tables): every tensor the
/// text encoder needs is bound exactly once, the documented ones are left out, and building reads
/// headers only — memory stays a tiny fraction of the 8-16 GB of weights.
/// </summary>
public sealed class Qwen3FullSizeGraphTests(ITestOutputHelper output)
{
    private const long Qwen3_4BBoundParameters = 3_114_088_192;
    private const long Qwen3_8BBoundParameters = 5_831_883_520;

    /// <summary>Building allocates a few MB (protobuf, RoPE tables); a builder that read the weights would allocate gigabytes.</summary>
    private const long MaxBuildAllocationBytes = 64L * 1024 * 1024;

    [Theory]
    [InlineData("qwen3-4b-text-encoder.tsv", "4B", ComputePrecision.BFloat16)]
    [InlineData("qwen3-4b-text-encoder.tsv", "4B", ComputePrecision.Float32)]
    [InlineData("qwen3-8b-text-encoder.tsv", "8B", ComputePrecision.BFloat16)]
    [InlineData("qwen3-8b-text-encoder.tsv", "8B", ComputePrecision.Float32)]
    public void Every_needed_tensor_is_bound_once_without_reading_weights(string table, string size, ComputePrecision precision)
    {
        var config = size == "4B" ? Qwen3Config.Qwen3_4B : Qwen3Config.Qwen3_8B;
        using var folder = new TempDirectory();
        var weights = WeightSet.Open(WeightTables.WriteSparse(table, folder.Path, "model.safetensors"));

        var (builder, modelPath) = BuildMeasured($"Qwen3-{size} {precision.ManifestName()}", weights, config, precision, folder.Path);

        AssertBindings(weights, config, builder, size == "4B" ? Qwen3_4BBoundParameters : Qwen3_8BBoundParameters);
        var types = OnnxGraphTypeCheck.Check(builder.Build());
        Assert.Equal(DataType.Float, types[Qwen3TextEncoderGraph.OutputName]);
        var model = builder.Build();
        var heavyNodes = model.Graph.Node.Where(n => n.OpType is "FusedMatMul" or "MultiHeadAttention" or "RotaryEmbedding" or "SimplifiedLayerNormalization").ToList();
        Assert.Equal((27 * 7) + 27 + (27 * 2) + (27 * 4), heavyNodes.Count);
        Assert.All(heavyNodes, n => Assert.Equal(precision.ToDataType(), types[n.Output[0]]));
        Assert.True(new FileInfo(modelPath).Length < 4 * 1024 * 1024, "the .onnx must hold no weight data");
    }

    [Fact]
    public void A_sharded_checkpoint_with_an_index_builds_the_same_graph()
    {
        using var folder = new TempDirectory();
        var rows = WeightTables.Read("qwen3-4b-text-encoder.tsv");
        var shards = new[] { "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors" };
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        var half = rows.Count / 2;
        for (var shard = 0; shard < 2; shard++)
        {
            var writer = new SafeTensorsWriter();
            foreach (var (name, shape, dtype) in shard == 0 ? rows.Take(half) : rows.Skip(half))
            {
                writer.Add(name, dtype, shape, data: null);
                weightMap[name] = shards[shard];
            }

            writer.Write(folder.Combine(shards[shard]), new Dictionary<string, string> { ["format"] = "pt" });
        }

        var totalSize = rows.Sum(r => r.Shape.Aggregate(1L, (a, b) => a * b) * r.DType.SizeInBytes());
        var indexPath = folder.Combine("model.safetensors.index.json");
        File.WriteAllText(indexPath, JsonSerializer.Serialize(new { metadata = new { total_size = totalSize }, weight_map = weightMap }));
        var weights = WeightSet.Open(folder.Path);
        Assert.Equal(2, weights.Files.Count);

        var (builder, _) = BuildMeasured("Qwen3-4B bf16, 2 shards", weights, Qwen3Config.Qwen3_4B, ComputePrecision.BFloat16, folder.Path);

        AssertBindings(weights, Qwen3Config.Qwen3_4B, builder, Qwen3_4BBoundParameters);
        var locations = builder.Build().Graph.Initializer
            .SelectMany(t => t.ExternalData.Where(e => e.Key == "location").Select(e => e.Value))
            .ToHashSet(StringComparer.Ordinal);
        Assert.Equal(shards.ToHashSet(), locations);
    }

    [Fact]
    public void A_config_that_does_not_match_the_checkpoint_fails_naming_the_tensor()
    {
        using var folder = new TempDirectory();
        var weights = WeightSet.Open(WeightTables.WriteSparse("qwen3-8b-text-encoder.tsv", folder.Path, "model.safetensors"));

        var error = Assert.Throws<SafeTensorsException>(() => Qwen3TextEncoderGraph.Build(weights, Qwen3Config.Qwen3_4B, ComputePrecision.BFloat16, folder.Path));

        Assert.Equal(Qwen3WeightNames.Embedding, error.Tensor);
        Assert.Contains("expected [151936,2560]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tensor_the_architecture_has_no_place_for_is_refused()
    {
        using var folder = new TempDirectory();
        var writer = new SafeTensorsWriter();
        foreach (var (name, shape) in Qwen3WeightNames.All(Qwen3Config.Qwen3_4B))
        {
            writer.Add(name, SafeTensorDType.BF16, shape, data: null);
        }

        // What a checkpoint with attention biases (not Qwen3) would carry.
        writer.Add("model.layers.3.self_attn.q_proj.bias", SafeTensorDType.BF16, [4096], data: null);
        writer.Write(folder.Combine("model.safetensors"));

        var error = Assert.Throws<SafeTensorsException>(() => Qwen3TextEncoderGraph.Build(WeightSet.Open(folder.Path), Qwen3Config.Qwen3_4B, ComputePrecision.BFloat16, folder.Path));

        Assert.Contains("model.layers.3.self_attn.q_proj.bias", error.Message, StringComparison.Ordinal);
    }

    private (OnnxGraphBuilder Builder, string ModelPath) BuildMeasured(string label, WeightSet weights, Qwen3Config config, ComputePrecision precision, string folder)
    {
        var weightBytes = weights.Files.Sum(f => f.FileLength);
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var stopwatch = Stopwatch.StartNew();

        var builder = Qwen3TextEncoderGraph.Build(weights, config, precision, folder);
        var buildTime = stopwatch.Elapsed;
        var modelPath = Path.Combine(folder, TextEncoderRunner.ModelFileName);
        builder.Save(modelPath);

        var totalTime = stopwatch.Elapsed;
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        using var process = Process.GetCurrentProcess();
        output.WriteLine(
            $"{label}: build {buildTime.TotalMilliseconds:F0} ms, build+save {totalTime.TotalMilliseconds:F0} ms, {builder.NodeCount} nodes, " +
            $"allocated on this thread {allocated / 1048576.0:F1} MiB, test-process peak working set {process.PeakWorkingSet64 / 1048576.0:F0} MiB, " +
            $".onnx {new FileInfo(modelPath).Length / 1024.0:F0} KiB, weights {weightBytes / 1e9:F2} GB");
        Assert.True(allocated < MaxBuildAllocationBytes, $"building allocated {allocated:N0} bytes against {weightBytes:N0} bytes of weights");
        return (builder, modelPath);
    }

    private void AssertBindings(WeightSet weights, Qwen3Config config, OnnxGraphBuilder builder, long expectedParameters)
    {
        var unused = Qwen3TextEncoderGraph.UnusedCheckpointTensors(weights, config).ToHashSet(StringComparer.Ordinal);
        var expectedUnused = (config.LayerCount - 27) * 11 + 1 + (weights.Contains(Qwen3WeightNames.LanguageModelHead) ? 1 : 0);
        Assert.Equal(expectedUnused, unused.Count);
        Assert.Contains(Qwen3WeightNames.FinalNorm, unused);
        Assert.All(unused, name => Assert.True(name == Qwen3WeightNames.FinalNorm || name == Qwen3WeightNames.LanguageModelHead || Qwen3WeightNames.LayerIndexOf(name) >= 27, name));

        foreach (var name in weights.Names)
        {
            var count = weights.Bindings.GetValueOrDefault(name);
            Assert.True(unused.Contains(name) ? count == 0 : count == 1, $"{name} bound {count} times");
        }

        Assert.Equal(unused.Order(StringComparer.Ordinal), weights.Unbound.Order(StringComparer.Ordinal));
        Assert.Equal(expectedParameters, builder.BoundParameterCount);
        output.WriteLine($"bound {weights.Bindings.Count} tensors ({builder.BoundParameterCount:N0} parameters), left out {unused.Count}");
    }
}
