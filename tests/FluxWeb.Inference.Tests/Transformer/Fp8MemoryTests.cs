using System.Diagnostics;
using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.Transformer;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.Transformer;

/// <summary>Runs alone: peak RSS only means something when no other test allocates beside it.</summary>
[CollectionDefinition(nameof(Fp8MemoryTests), DisableParallelization = true)]
public sealed class Fp8MemoryCollection
{
}

/// <summary>
/// FP8 weights are dequantised right before their matmul. Without the dependency on the layer's
/// input, ONNX Runtime runs every DequantizeLinear first (their inputs are all initializers) and
/// every dequantised weight is alive at once: the "FP8 uses more memory than bf16" of the desk audit.
/// Measured here on the CPU in float32 on a 4B-shaped slice (hidden 1024, one double and four single
/// blocks, 82 M FP8 parameters = 328 MB dequantised).
/// </summary>
[Collection(nameof(Fp8MemoryTests))]
public sealed class Fp8MemoryTests(ITestOutputHelper output)
{
    private static readonly Flux2TransformerConfig Slice = new("fp8-slice", 1024, 8, 1, 4, 256, [32, 32, 32, 32]);

    [Fact]
    public void Dequantising_just_in_time_gives_the_same_output_with_a_fraction_of_the_peak_memory()
    {
        using var folder = new TempDirectory();
        WriteFp8Slice(folder.Combine("fp8.safetensors"));
        var weights = WeightSet.Open(folder.Combine("fp8.safetensors"));
        var graph = Flux2TransformerGraph.Build(weights, Slice, ComputePrecision.Float32, folder.Path).Build();
        var early = WithoutJustInTimeDependencies(graph);
        var quantized = graph.Graph.Node.Count(n => n.OpType == "DequantizeLinear");
        Assert.Equal(2 * 4 + 4 * 2, quantized);
        Assert.Equal(quantized, graph.Graph.Node.Count(n => n.OpType == "Reshape" && n.Name.Contains(QuantizedLinears.JustInTimeMarker, StringComparison.Ordinal)));
        File.WriteAllBytes(folder.Combine("jit.onnx"), graph.ToByteArray());
        File.WriteAllBytes(folder.Combine("early.onnx"), early.ToByteArray());

        var (earlyOutput, earlyPeaks) = Measure(folder.Combine("early.onnx"));
        var (jitOutput, jitPeaks) = Measure(folder.Combine("jit.onnx"));

        output.WriteLine($"peak memory above the loaded session, runs 0 and 1: dequantise early (ONNX Runtime's own order) {earlyPeaks[0] / 1e6:F0} / {earlyPeaks[1] / 1e6:F0} MB; just in time {jitPeaks[0] / 1e6:F0} / {jitPeaks[1] / 1e6:F0} MB (every weight dequantised at once would be {(2 * 13L + 4 * 13L) * 1024 * 1024 * 4 / 1e6:F0} MB)");
        Assert.Equal(earlyOutput, jitOutput);
        Assert.True(jitPeaks.Max() < earlyPeaks.Max() * 0.6, $"just in time {jitPeaks.Max() / 1e6:F0} MB vs early {earlyPeaks.Max() / 1e6:F0} MB");
    }

    /// <summary>The graph as it was before: each DequantizeLinear reads its weight directly.</summary>
    private static global::Onnx.ModelProto WithoutJustInTimeDependencies(global::Onnx.ModelProto model)
    {
        var copy = model.Clone();
        var reshapes = copy.Graph.Node.Where(n => n.OpType == "Reshape" && n.Name.Contains(QuantizedLinears.JustInTimeMarker, StringComparison.Ordinal)).ToDictionary(n => n.Output[0], n => n.Input[0]);
        foreach (var node in copy.Graph.Node)
        {
            for (var i = 0; i < node.Input.Count; i++)
            {
                if (reshapes.TryGetValue(node.Input[i], out var weight))
                {
                    node.Input[i] = weight;
                }
            }
        }

        var unused = copy.Graph.Node.Where(n => n.Name.Contains(QuantizedLinears.JustInTimeMarker, StringComparison.Ordinal)).ToList();
        foreach (var node in unused)
        {
            copy.Graph.Node.Remove(node);
        }

        return copy;
    }

    private static (float[] Output, long[] PeakGrowth) Measure(string model)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 2 };
        using var session = new InferenceSession(model, options);
        const int imageTokens = 64;
        const int textTokens = 16;
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.HiddenStates, new DenseTensor<float>(Enumerable.Range(0, imageTokens * 128).Select(i => MathF.Sin(i)).ToArray(), [1, imageTokens, 128])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.EncoderHiddenStates, new DenseTensor<float>(Enumerable.Range(0, textTokens * 256).Select(i => MathF.Cos(i)).ToArray(), [1, textTokens, 256])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.Timestep, new DenseTensor<float>(new[] { 0.5f }, [1])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.ImageIds, new DenseTensor<float>(new float[imageTokens * 4], [imageTokens, 4])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.TextIds, new DenseTensor<float>(new float[textTokens * 4], [textTokens, 4])),
        };
        GC.Collect();
        var before = PeakMemory.Resident();
        var peaks = new long[2];
        float[] output = [];
        for (var run = 0; run < 2; run++)
        {
            PeakMemory.Reset();
            using var results = session.Run(inputs);
            output = results[0].AsTensor<float>().ToArray();
            peaks[run] = PeakMemory.Peak() - before;
        }

        return (output, peaks);
    }

    private static void WriteFp8Slice(string path)
    {
        var writer = new SafeTensorsWriter();
        var random = new Random(20261204);
        long h = Slice.Hidden, m = Slice.MlpHidden, d = Slice.HeadDim;
        void Plain(string name, params long[] shape) => writer.AddFloat32(name, shape, Enumerable.Range(0, (int)shape.Aggregate(1L, (a, b) => a * b)).Select(_ => (float)(random.NextDouble() - 0.5) * 0.1f).ToArray());
        void Fp8(string layer, params long[] shape)
        {
            var codes = new byte[shape[0] * shape[1]];
            random.NextBytes(codes);
            for (var i = 0; i < codes.Length; i++)
            {
                codes[i] &= 0xF7; // no NaN codes (0x7F, 0xFF)
            }

            writer.Add(layer + ".weight", SafeTensorDType.F8_E4M3, shape, codes);
            writer.AddFloat32(layer + ".weight_scale", [], [0.001f]);
            writer.AddFloat32(layer + ".input_scale", [], [1f]);
        }

        Plain("img_in.weight", h, 128);
        Plain("txt_in.weight", h, Slice.ContextDim);
        Plain("time_in.in_layer.weight", h, 256);
        Plain("time_in.out_layer.weight", h, h);
        Plain("double_stream_modulation_img.lin.weight", 6 * h, h);
        Plain("double_stream_modulation_txt.lin.weight", 6 * h, h);
        Plain("single_stream_modulation.lin.weight", 3 * h, h);
        foreach (var stream in new[] { "img", "txt" })
        {
            Fp8($"double_blocks.0.{stream}_attn.qkv", 3 * h, h);
            Fp8($"double_blocks.0.{stream}_attn.proj", h, h);
            Fp8($"double_blocks.0.{stream}_mlp.0", 2 * m, h);
            Fp8($"double_blocks.0.{stream}_mlp.2", h, m);
            Plain($"double_blocks.0.{stream}_attn.norm.query_norm.scale", d);
            Plain($"double_blocks.0.{stream}_attn.norm.key_norm.scale", d);
        }

        for (var b = 0; b < Slice.SingleBlocks; b++)
        {
            Fp8($"single_blocks.{b}.linear1", 3 * h + 2 * m, h);
            Fp8($"single_blocks.{b}.linear2", h, h + m);
            Plain($"single_blocks.{b}.norm.query_norm.scale", d);
            Plain($"single_blocks.{b}.norm.key_norm.scale", d);
        }

        Plain("final_layer.adaLN_modulation.1.weight", 2 * h, h);
        Plain("final_layer.linear.weight", 128, h);
        writer.Write(path);
    }
}

/// <summary>The process's resident set and its high-water mark, which Linux resets on request.</summary>
internal static class PeakMemory
{
    public static void Reset() => File.WriteAllText("/proc/self/clear_refs", "5");

    public static long Peak() => Status("VmHWM:");

    public static long Resident() => Status("VmRSS:");

    private static long Status(string key) =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(key, StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
}
