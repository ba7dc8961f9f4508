using System.Diagnostics;
using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.Transformer;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.Transformer;

/// <summary>
/// The real 4B and 9B layouts (official names and shapes, as sparse files) bind completely: every
/// official tensor exactly once, nothing unbound, the official parameter counts, and without
/// reading the weights.
/// </summary>
public sealed class FullSizeTransformerBindingTests(ITestOutputHelper output)
{
    public static TheoryData<string, string, long> Layouts => new()
    {
        { "flux2-klein-4b-transformer.tsv", "klein-4b", 3_875_544_576 },
        { "flux2-klein-4b-transformer-bfl.tsv", "klein-4b", 3_875_544_576 },
        { "flux2-klein-4b-transformer-bfl-fp8.tsv", "klein-4b", 3_875_544_576 },
        { "flux2-klein-9b-transformer.tsv", "klein-9b", 9_078_581_248 },
        { "flux2-klein-9b-transformer-bfl.tsv", "klein-9b", 9_078_581_248 },
        { "flux2-klein-9b-transformer-bfl-fp8.tsv", "klein-9b", 9_078_581_248 },
    };

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Official_layout_binds_every_tensor_once(string table, string family, long parameters)
    {
        using var folder = new TempDirectory();
        var file = WeightTables.WriteSparse(table, folder.Path, "transformer.safetensors");
        var config = family == "klein-4b" ? Flux2TransformerConfig.Klein4B : Flux2TransformerConfig.Klein9B;
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();

        var weights = WeightSet.Open(file);
        var graph = Flux2TransformerGraph.Build(weights, config, ComputePrecision.BFloat16, folder.Path);
        graph.Save(folder.Combine("transformer.onnx"));

        clock.Stop();
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        var unusedByDesign = Flux2TransformerGraph.UnusedByDesign(weights);
        Assert.Equal(unusedByDesign.Order(StringComparer.Ordinal), weights.Unbound.Order(StringComparer.Ordinal));
        Assert.All(weights.Bindings, b => Assert.True(b.Value == 1, $"{b.Key} bound {b.Value} times"));
        Assert.Equal(WeightTables.Read(table).Count - unusedByDesign.Count, weights.Bindings.Count);

        var boundParameters = WeightTables.Read(table).Where(r => weights.Bindings.ContainsKey(r.Name)).Sum(r => r.Shape.Aggregate(1L, (a, b) => a * b));
        var scalars = WeightTables.Read(table).Where(r => r.Shape.Length == 0 && weights.Bindings.ContainsKey(r.Name)).LongCount();
        Assert.Equal(parameters, boundParameters - scalars);

        var onnxBytes = new FileInfo(folder.Combine("transformer.onnx")).Length;
        output.WriteLine($"{table}: {graph.NodeCount} nodes, {weights.Bindings.Count} tensors bound ({unusedByDesign.Count} FP8 input scales unused), " +
            $"{boundParameters - scalars:N0} parameters; built in {clock.ElapsedMilliseconds} ms, {allocated / 1e6:F1} MB allocated, " +
            $"peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / 1e6:F0} MB; .onnx {onnxBytes / 1e3:F0} kB (weights stay in the .safetensors)");
        // Building must not read the weights: far less memory than one block's worth of them.
        Assert.True(allocated < 200_000_000, $"building allocated {allocated / 1e6:F0} MB");
        Assert.True(onnxBytes < 5_000_000, $"the .onnx file is {onnxBytes} bytes: weights were copied into it");
    }

    [Fact]
    public void A_layout_of_the_wrong_size_is_refused_with_the_tensor_and_shapes()
    {
        using var folder = new TempDirectory();
        var file = WeightTables.WriteSparse("flux2-klein-4b-transformer.tsv", folder.Path, "transformer.safetensors");

        var error = Assert.Throws<SafeTensorsException>(() =>
            Flux2TransformerGraph.Build(WeightSet.Open(file), Flux2TransformerConfig.Klein9B, ComputePrecision.BFloat16, folder.Path));

        Assert.Contains("expected [4096,", error.Message, StringComparison.Ordinal);
        Assert.Contains("[3072,", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_not_a_flux2_transformer_is_named_as_such()
    {
        using var folder = new TempDirectory();
        var file = WeightTables.WriteSparse("flux2-vae.tsv", folder.Path, "vae.safetensors");

        var error = Assert.Throws<SafeTensorsException>(() =>
            Flux2TransformerGraph.Build(WeightSet.Open(file), Flux2TransformerConfig.Klein4B, ComputePrecision.BFloat16, folder.Path));

        Assert.Contains("is not a FLUX.2 transformer checkpoint", error.Message, StringComparison.Ordinal);
    }
}
