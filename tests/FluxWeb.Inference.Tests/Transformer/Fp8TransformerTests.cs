using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.Transformer;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.Transformer;

/// <summary>
/// BFL's FP8 checkpoints (FLOAT8E4M3 block linears with a per-tensor weight_scale): the graph
/// dequantises in-graph and must compute exactly what float32 weights holding the dequantised
/// values compute.
/// </summary>
public sealed class Fp8TransformerTests(ITestOutputHelper output)
{
    private static bool IsBlockLinear(string name) =>
        (name.StartsWith("double_blocks.", StringComparison.Ordinal) && (name.Contains("_attn.qkv.", StringComparison.Ordinal) || name.Contains("_attn.proj.", StringComparison.Ordinal) || name.Contains("_mlp.", StringComparison.Ordinal)))
        || (name.StartsWith("single_blocks.", StringComparison.Ordinal) && (name.Contains(".linear1.", StringComparison.Ordinal) || name.Contains(".linear2.", StringComparison.Ordinal)));

    [Fact]
    public void Fp8_weights_dequantise_in_the_graph_to_the_same_result_as_float32()
    {
        using var folder = new TempDirectory();
        var source = TestFixtures.Open("flux2-tiny", "weights", "transformer_bfl.safetensors");
        var fp8 = new SafeTensorsWriter();
        var dequantised = new SafeTensorsWriter();
        var quantisedLayers = 0;
        foreach (var info in source.Tensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            var values = source.ReadFloat32(info.Name);
            if (!IsBlockLinear(info.Name))
            {
                fp8.AddFloat32(info.Name, info.Shape, values);
                dequantised.AddFloat32(info.Name, info.Shape, values);
                continue;
            }

            var scale = values.Max(Math.Abs) / 448f;
            var codes = values.Select(v => TensorConversion.FloatToFloat8E4M3Fn(v / scale)).ToArray();
            fp8.Add(info.Name, SafeTensorDType.F8_E4M3, info.Shape, codes);
            var layer = info.Name[..^".weight".Length];
            fp8.AddFloat32(layer + ".weight_scale", [], [scale]);
            fp8.AddFloat32(layer + ".input_scale", [], [1f]);
            dequantised.AddFloat32(info.Name, info.Shape, codes.Select(c => TensorConversion.Float8E4M3FnToFloat(c) * scale).ToArray());
            quantisedLayers++;
        }

        Assert.Equal(20, quantisedLayers); // 2 double blocks × 8 linears + 2 single blocks × 2
        fp8.Write(folder.Combine("fp8.safetensors"));
        dequantised.Write(folder.Combine("dequantised.safetensors"));
        var case_ = TestFixtures.Open("flux2-tiny", "transformer_fwd_ref.safetensors");

        var fp8Weights = WeightSet.Open(folder.Combine("fp8.safetensors"));
        Flux2TransformerGraph.Build(fp8Weights, Flux2TransformerConfig.FixtureTiny, ComputePrecision.Float32, folder.Path).Save(folder.Combine("fp8.onnx"));
        Assert.Equal(Flux2TransformerGraph.UnusedByDesign(fp8Weights), fp8Weights.Unbound.Order(StringComparer.Ordinal));
        Flux2TransformerGraph.Build(WeightSet.Open(folder.Combine("dequantised.safetensors")), Flux2TransformerConfig.FixtureTiny, ComputePrecision.Float32, folder.Path).Save(folder.Combine("dequantised.onnx"));

        using var fp8Session = new InferenceSession(folder.Combine("fp8.onnx"));
        using var floatSession = new InferenceSession(folder.Combine("dequantised.onnx"));
        var fromFp8 = TransformerOracleTests.Run(fp8Session, case_);
        var fromFloat = TransformerOracleTests.Run(floatSession, case_);
        var (maxAbs, _) = TransformerOracleTests.Compare(fromFloat, fromFp8);
        var (quantisationError, _) = TransformerOracleTests.Compare(case_.ReadFloat32("pred"), fromFp8);

        output.WriteLine($"FP8 graph vs dequantised float32 graph: max abs {maxAbs:E2}; FP8 quantisation moves the output by {quantisationError:E2}");
        Assert.True(maxAbs < 1e-5f, $"FP8 graph differs from float32 with the same values by {maxAbs:E2}");
        Assert.True(quantisationError > 1e-4f, "the FP8 file must really hold quantised weights");
    }
}
