using System.Diagnostics;
using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.Vae;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.Vae;

/// <summary>
/// The official VAE layout (flux2-vae.tsv, written as a sparse safetensors file: header only, no
/// weight data) bound by both graphs: every tensor used exactly once per graph, the two halves
/// together covering the whole checkpoint except the BatchNorm batch counter.
/// </summary>
public sealed class Flux2VaeFullSizeTests(ITestOutputHelper output)
{
    private const string Table = "flux2-vae.tsv";

    /// <summary>All float parameters of the official file (weights-tables/README.md).</summary>
    private const long OfficialFloatParameters = 84_046_371;

    [Fact]
    public void Official_configuration_reproduces_the_parameter_table_name_for_name()
    {
        var table = WeightTables.Read(Table).Where(r => r.Name != Flux2VaeWeightNames.BatchCounter).ToList();
        var expected = new Flux2VaeWeightNames(Flux2VaeNaming.Diffusers, Flux2VaeConfig.Official).ExpectedTensors();

        Assert.Equal(table.Select(r => r.Name), expected.Select(t => t.Name));
        Assert.All(table.Zip(expected), pair => Assert.Equal(pair.First.Shape, pair.Second.Shape));
        Assert.Equal(OfficialFloatParameters, expected.Sum(t => t.ElementCount));
        Assert.Equal(SafeTensorDType.I64, WeightTables.Read(Table).Single(r => r.Name == Flux2VaeWeightNames.BatchCounter).DType);
    }

    [Fact]
    public void Official_configuration_is_detected_from_the_table()
    {
        using var folder = new TempDirectory();
        var weights = WeightSet.Open(WeightTables.WriteSparse(Table, folder.Path, "flux2-vae.safetensors"));

        Assert.Equal(Flux2VaeNaming.Diffusers, Flux2VaeWeightNames.DetectNaming(weights));
        Assert.Equal(Flux2VaeConfig.Official, Flux2VaeConfig.FromWeights(weights));
        Assert.Equal((128, 256, 512, 512), (Flux2VaeConfig.Official.LevelChannels(0), Flux2VaeConfig.Official.LevelChannels(1), Flux2VaeConfig.Official.LevelChannels(2), Flux2VaeConfig.Official.LevelChannels(3)));
        Assert.Equal(16, Flux2VaeConfig.Official.LatentScale);
    }

    [Theory]
    [InlineData(ComputePrecision.Float32)]
    [InlineData(ComputePrecision.BFloat16)]
    public void Encoder_and_decoder_bind_every_official_tensor_once_without_reading_weights(ComputePrecision precision)
    {
        using var folder = new TempDirectory();
        var file = WeightTables.WriteSparse(Table, folder.Path, "flux2-vae.safetensors");
        var table = WeightTables.Read(Table).ToDictionary(r => r.Name, r => r.Shape.Aggregate(1L, (a, b) => a * b));
        var expected = new Flux2VaeWeightNames(Flux2VaeNaming.Diffusers, Flux2VaeConfig.Official).ExpectedTensors().ToDictionary(t => t.Name);

        var encoder = BuildAndMeasure("encoder", precision, file, folder, Flux2VaeGraphs.BuildEncoder);
        var decoder = BuildAndMeasure("decoder", precision, file, folder, Flux2VaeGraphs.BuildDecoder);

        foreach (var (half, built) in new[] { (Flux2VaeHalf.Encoder, encoder), (Flux2VaeHalf.Decoder, decoder) })
        {
            Assert.All(built.Weights.Bindings, binding => Assert.Equal(1, binding.Value));
            var wanted = expected.Values.Where(t => t.Half == half || t.Half == Flux2VaeHalf.Both).Select(t => t.Name).ToHashSet();
            Assert.Equal(wanted.Order(StringComparer.Ordinal), built.Weights.Bindings.Keys.Order(StringComparer.Ordinal));
            Assert.Equal(wanted.Sum(n => table[n]), built.Graph.BoundParameterCount);
        }

        var both = encoder.Weights.Bindings.Keys.Intersect(decoder.Weights.Bindings.Keys).Order(StringComparer.Ordinal);
        Assert.Equal([Flux2VaeWeightNames.RunningMean, Flux2VaeWeightNames.RunningVariance], both);
        var unused = table.Keys.Except(encoder.Weights.Bindings.Keys).Except(decoder.Weights.Bindings.Keys);
        Assert.Equal([Flux2VaeWeightNames.BatchCounter], unused);
        Assert.Equal(OfficialFloatParameters, encoder.Graph.BoundParameterCount + decoder.Graph.BoundParameterCount - 2 * 128);
        output.WriteLine($"parameters bound: encoder {encoder.Graph.BoundParameterCount:N0}, decoder {decoder.Graph.BoundParameterCount:N0}, shared BatchNorm statistics 256, unused: {Flux2VaeWeightNames.BatchCounter}");
    }

    [Fact]
    public void Full_size_float32_graphs_load_in_onnx_runtime_and_keep_their_shapes()
    {
        using var folder = new TempDirectory();
        var file = WeightTables.WriteSparse(Table, folder.Path, "flux2-vae.safetensors");
        var encoder = Path.Combine(folder.Path, "encoder.onnx");
        var decoder = Path.Combine(folder.Path, "decoder.onnx");
        Flux2VaeGraphs.Save(Flux2VaeGraphs.BuildEncoder(WeightSet.Open(file), Flux2VaeConfig.Official, ComputePrecision.Float32, folder.Path), encoder);
        Flux2VaeGraphs.Save(Flux2VaeGraphs.BuildDecoder(WeightSet.Open(file), Flux2VaeConfig.Official, ComputePrecision.Float32, folder.Path), decoder);

        // The sparse weights read as zeros: the point is that ONNX Runtime accepts every official
        // shape and the spatial sizes come out right, not the values.
        var clock = Stopwatch.StartNew();
        var latents = VaeTestModel.Run(encoder, Flux2VaeGraphs.EncoderInput, new FloatTensor(new float[3 * 32 * 48], [1, 3, 32, 48]))[Flux2VaeGraphs.EncoderOutput];
        var image = VaeTestModel.Run(decoder, Flux2VaeGraphs.DecoderInput, new FloatTensor(new float[128 * 2 * 3], [1, 128, 2, 3]))[Flux2VaeGraphs.DecoderOutput];
        output.WriteLine($"full-size float32 encoder 32×48 + decoder 2×3 latents on CPU, sessions included: {clock.Elapsed.TotalSeconds:F1} s");

        Assert.Equal([1, 128, 2, 3], latents.Shape);
        Assert.Equal([1, 3, 32, 48], image.Shape);
        Assert.All(latents.Values.Concat(image.Values), v => Assert.True(float.IsFinite(v)));
    }

    private sealed record Built(OnnxGraphBuilder Graph, WeightSet Weights);

    private Built BuildAndMeasure(string half, ComputePrecision precision, string file, TempDirectory folder, Func<WeightSet, Flux2VaeConfig, ComputePrecision, string, OnnxGraphBuilder> build)
    {
        var weights = WeightSet.Open(file);
        GC.Collect();
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var graph = build(weights, Flux2VaeConfig.Official, precision, folder.Path);
        var path = Path.Combine(folder.Path, $"{half}-{precision}.onnx");
        Flux2VaeGraphs.Save(graph, path);
        clock.Stop();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        var size = new FileInfo(path).Length;
        using var process = Process.GetCurrentProcess();
        output.WriteLine($"{half} {precision.ManifestName()}: {graph.NodeCount} nodes, built and saved in {clock.Elapsed.TotalMilliseconds:F0} ms, {allocated / 1048576.0:F1} MiB allocated, .onnx {size / 1024.0:F0} KiB, process peak working set {process.PeakWorkingSet64 / 1048576.0:F0} MiB");

        // The checkpoint holds 336 MB of float32: a builder that read or embedded weight data
        // would allocate or write at least that much.
        Assert.True(allocated < 64L * 1024 * 1024, $"building allocated {allocated:N0} bytes");
        Assert.True(size < 1024 * 1024, $"the .onnx is {size:N0} bytes: weights must stay external");
        return new Built(graph, weights);
    }
}
