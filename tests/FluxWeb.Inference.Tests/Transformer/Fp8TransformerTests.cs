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

    [Fact]
    public void Nvfp4_weights_unpack_in_the_graph_to_the_same_result_as_float32()
    {
        using var folder = new TempDirectory();
        var source = TestFixtures.Open("flux2-tiny", "weights", "transformer_bfl.safetensors");
        var nvfp4 = new SafeTensorsWriter();
        var dequantised = new SafeTensorsWriter();
        foreach (var info in source.Tensors.Values.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            var values = source.ReadFloat32(info.Name);
            if (!IsBlockLinear(info.Name))
            {
                nvfp4.AddFloat32(info.Name, info.Shape, values);
                dequantised.AddFloat32(info.Name, info.Shape, values);
                continue;
            }

            var (outputs, inputs) = ((int)info.Shape[0], (int)info.Shape[1]);
            var global = values.Max(Math.Abs) / (6f * 448f);
            var packed = new byte[outputs * inputs / 2];
            var scales = new byte[outputs * inputs / Nvfp4.BlockSize];
            var restored = new float[values.Length];
            for (var o = 0; o < outputs; o++)
            {
                for (var b = 0; b < inputs / Nvfp4.BlockSize; b++)
                {
                    var start = o * inputs + b * Nvfp4.BlockSize;
                    var amax = values.AsSpan(start, Nvfp4.BlockSize).ToArray().Max(Math.Abs);
                    var scaleCode = TensorConversion.FloatToFloat8E4M3Fn(amax / 6f / global);
                    scales[o * inputs / Nvfp4.BlockSize + b] = scaleCode;
                    var blockScale = TensorConversion.Float8E4M3FnToFloat(scaleCode);
                    for (var i = 0; i < Nvfp4.BlockSize; i++)
                    {
                        var code = NearestE2M1(blockScale == 0 ? 0 : values[start + i] / (blockScale * global));
                        var index = start + i;
                        packed[index / 2] |= (byte)(index % 2 == 0 ? code : code << 4);
                        restored[index] = Nvfp4.E2M1[code] * blockScale * global;
                    }
                }
            }

            var layer = info.Name[..^".weight".Length];
            nvfp4.Add(info.Name, SafeTensorDType.U8, [outputs, inputs / 2], packed);
            nvfp4.Add(layer + ".weight_scale", SafeTensorDType.F8_E4M3, [outputs, inputs / Nvfp4.BlockSize], scales);
            nvfp4.AddFloat32(layer + ".weight_scale_2", [], [global]);
            nvfp4.AddFloat32(layer + ".input_scale", [], [1f]);
            dequantised.AddFloat32(info.Name, info.Shape, restored);
        }

        nvfp4.Write(folder.Combine("nvfp4.safetensors"));
        dequantised.Write(folder.Combine("dequantised.safetensors"));
        var nvfp4Weights = WeightSet.Open(folder.Combine("nvfp4.safetensors"));
        Flux2TransformerGraph.Build(nvfp4Weights, Flux2TransformerConfig.FixtureTiny, ComputePrecision.Float32, folder.Path).Save(folder.Combine("nvfp4.onnx"));
        Assert.Equal(Flux2TransformerGraph.UnusedByDesign(nvfp4Weights), nvfp4Weights.Unbound.Order(StringComparer.Ordinal));
        Flux2TransformerGraph.Build(WeightSet.Open(folder.Combine("dequantised.safetensors")), Flux2TransformerConfig.FixtureTiny, ComputePrecision.Float32, folder.Path).Save(folder.Combine("dequantised.onnx"));
        var case_ = TestFixtures.Open("flux2-tiny", "transformer_fwd_noref.safetensors");

        using var nvfp4Session = new InferenceSession(folder.Combine("nvfp4.onnx"));
        using var floatSession = new InferenceSession(folder.Combine("dequantised.onnx"));
        var (maxAbs, _) = TransformerOracleTests.Compare(TransformerOracleTests.Run(floatSession, case_), TransformerOracleTests.Run(nvfp4Session, case_));

        output.WriteLine($"NVFP4 graph vs dequantised float32 graph: max abs {maxAbs:E2}; packed file {new FileInfo(folder.Combine("nvfp4.safetensors")).Length / 1e3:F0} kB vs {new FileInfo(folder.Combine("dequantised.safetensors")).Length / 1e3:F0} kB");
        Assert.True(maxAbs < 1e-4f, $"NVFP4 graph differs from float32 with the same values by {maxAbs:E2}");
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
}
