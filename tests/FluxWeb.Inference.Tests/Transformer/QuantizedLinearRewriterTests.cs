using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.Packages;
using FluxWeb.Inference.SafeTensors;
using FluxWeb.Inference.Transformer;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;
using Xunit.Abstractions;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Tests.Transformer;

/// <summary>
/// The load-time rewrite of quantized linears into ONNX Runtime's fused CUDA kernels. Those kernels
/// have no CPU implementation, so here: ONNX Runtime 1.31 accepts the rewritten graphs (session
/// creation fails only for want of a kernel, never on the schema), and the rewritten graph, with
/// the fused nodes spelled out per their documented semantics, computes what the portable graph does.
/// </summary>
public sealed class QuantizedLinearRewriterTests(ITestOutputHelper output)
{
    /// <summary>
    /// bf16 only: ONNX Runtime's CPU provider wraps fp16 nodes it has no kernel for in float32 casts
    /// before checking types, so an fp16 graph cannot be validated this way on a CPU (its rewrite is
    /// the same code with another element type, checked structurally below).
    /// </summary>
    [Theory]
    [InlineData(ComputePrecision.BFloat16, false)]
    [InlineData(ComputePrecision.BFloat16, true)]
    public void The_rewritten_graph_is_valid_for_onnx_runtime_and_keeps_no_dequantise_chain(ComputePrecision precision, bool nvfp4)
    {
        using var folder = new TempDirectory();
        var portable = BuildTiny(folder, precision, nvfp4);

        var result = QuantizedLinearRewriter.Rewrite(portable, fp8: true, fp4: true);

        Assert.Equal(nvfp4 ? 0 : 20, result.Fp8Linears);
        Assert.Equal(nvfp4 ? 20 : 0, result.Fp4Linears);
        var nodes = result.Model.Graph.Node;
        Assert.DoesNotContain(nodes, n => n.OpType is "DequantizeLinear" or "GatherBlockQuantized");
        Assert.DoesNotContain(nodes, n => n.Name.Contains(QuantizedLinears.JustInTimeMarker, StringComparison.Ordinal));
        Assert.DoesNotContain(result.Model.Graph.Initializer, i => i.DataType is (int)DataType.Float4E2M1);
        var error = Assert.Throws<OnnxRuntimeException>(() => CreateOnCpu(result.Model, folder.Path));
        output.WriteLine($"{precision} {(nvfp4 ? "NVFP4" : "FP8")}: {error.Message.Split('\n')[0]}");
        // Graph resolution (schema, types, shapes) passed; only the CUDA-only kernels are missing.
        Assert.StartsWith("[ErrorCode:NotImplemented] Could not find an implementation for ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Fp16_graphs_dequantise_to_fp16_and_rewrite_the_same_way(bool nvfp4)
    {
        using var folder = new TempDirectory();
        var portable = BuildTiny(folder, ComputePrecision.Float16, nvfp4);

        var result = QuantizedLinearRewriter.Rewrite(portable, fp8: true, fp4: true);

        Assert.Equal(20, result.Fp8Linears + result.Fp4Linears);
        Assert.DoesNotContain(result.Model.Graph.Node, n => n.OpType is "DequantizeLinear" or "GatherBlockQuantized");
        if (!nvfp4)
        {
            // No float32 copy of an FP8 weight: the scale is cast to fp16 and DequantizeLinear yields fp16.
            Assert.DoesNotContain(portable.Graph.Node, n => n.OpType == "Cast" && portable.Graph.Node.Any(d => d.OpType == "DequantizeLinear" && d.Output[0] == n.Input[0]));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Spelled_out_per_its_documented_semantics_the_rewritten_graph_computes_what_the_portable_one_does(bool nvfp4)
    {
        using var folder = new TempDirectory();
        var portable = BuildTiny(folder, ComputePrecision.Float32, nvfp4);
        var rewritten = QuantizedLinearRewriter.Rewrite(portable, fp8: true, fp4: true).Model;

        var expected = Run(portable, folder.Path);
        var actual = Run(SpellOut(rewritten), folder.Path);

        var (maxAbs, _) = TransformerOracleTests.Compare(expected, actual);
        output.WriteLine($"{(nvfp4 ? "NVFP4" : "FP8")}: fused kernels' semantics vs portable graph, max abs {maxAbs:E2}");
        Assert.True(maxAbs < 1e-5f, $"off by {maxAbs:E2}");
    }

    [Fact]
    public void The_official_4b_fp8_layout_becomes_80_fused_linears_with_one_scale_per_row()
    {
        using var folder = new TempDirectory();
        var file = WeightTables.WriteSparse("flux2-klein-4b-transformer-bfl-fp8.tsv", folder.Path, "transformer.safetensors");
        var portable = Flux2TransformerGraph.Build(WeightSet.Open(file), Flux2TransformerConfig.Klein4B, ComputePrecision.BFloat16, folder.Path).Build();

        var result = QuantizedLinearRewriter.Rewrite(portable, fp8: true, fp4: false);

        Assert.Equal(80, result.Fp8Linears);
        var fused = result.Model.Graph.Node.Where(n => n.OpType == QuantizedLinearRewriter.Fp8Operator).ToList();
        var initializers = result.Model.Graph.Initializer.ToDictionary(i => i.Name);
        Assert.All(fused, node =>
        {
            var weight = initializers[node.Input[1]];
            Assert.Equal(DataType.Float8E4M3Fn, (DataType)weight.DataType);
            Assert.Equal(weight.Dims[1], node.Attribute.Single(a => a.Name == "block_size").I);
        });
        Assert.Equal([3072L, 9216L, 12288L], fused.Select(n => initializers[n.Input[1]].Dims[1]).Distinct().Order());
        Assert.Equal(0, QuantizedLinearRewriter.Rewrite(portable, fp8: false, fp4: true).Fp8Linears);
    }

    [Fact]
    public void A_graph_loaded_from_memory_finds_its_external_weights_in_the_package_folder()
    {
        using var folder = new TempDirectory();
        var portable = BuildTiny(folder, ComputePrecision.Float32, nvfp4: false);
        File.WriteAllBytes(folder.Combine("transformer.onnx"), portable.ToByteArray());

        using var options = new SessionOptions();
        options.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", folder.Path);
        using var fromMemory = new InferenceSession(portable.ToByteArray(), options);
        using var fromFile = new InferenceSession(folder.Combine("transformer.onnx"));

        Assert.Equal(Run(fromFile), Run(fromMemory));
    }

    private static ModelProto BuildTiny(TempDirectory folder, ComputePrecision precision, bool nvfp4)
    {
        var source = folder.Combine("source.safetensors");
        TinyCheckpoint.WriteBflTransformer(source, fp8: !nvfp4, nvfp4: nvfp4);
        var path = source;
        if (nvfp4)
        {
            path = folder.Combine("row-major.safetensors");
            Nvfp4.ConvertToRowMajor(SafeTensorsFile.Open(source), path);
        }

        return Flux2TransformerGraph.Build(WeightSet.Open(path), TinyCheckpoint.TransformerConfig, precision, folder.Path).Build();
    }

    private static InferenceSession CreateOnCpu(ModelProto model, string folder)
    {
        using var options = new SessionOptions();
        options.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", folder);
        return new InferenceSession(model.ToByteArray(), options);
    }

    /// <summary>
    /// The fused nodes written out in plain ONNX from their contracts: MatMulBlockQuantizedFp8Weight
    /// is y = A·(e4m3(B)·b_scale[n, k / block_size])ᵀ; MatMulBlockQuantizedFp4Weight is
    /// y = A·(e2m1(B, low nibble first)·e4m3(weight_scale[n, k / 16])·weight_scale_2)ᵀ.
    /// </summary>
    private static ModelProto SpellOut(ModelProto rewritten)
    {
        var model = rewritten.Clone();
        var graph = model.Graph;
        var initializers = graph.Initializer.ToDictionary(i => i.Name);
        var nodes = new List<NodeProto>();
        var counter = 0;
        foreach (var node in graph.Node)
        {
            var id = $"spelled_{counter++}";
            if (node.OpType == QuantizedLinearRewriter.Fp8Operator)
            {
                var weight = initializers[node.Input[1]];
                var blockSize = node.Attribute.Single(a => a.Name == "block_size").I;
                Assert.Equal(weight.Dims[1], blockSize); // one block a row: b_scale [N, 1] broadcasts over K
                graph.Initializer.Add(OnnxProtoFactory.FloatTensor($"{id}/one", [], [1f]));
                nodes.Add(OnnxProtoFactory.Node("DequantizeLinear", [node.Input[1], $"{id}/one"], [$"{id}/codes"], $"{id}/dq"));
                nodes.Add(OnnxProtoFactory.Node("Mul", [$"{id}/codes", node.Input[2]], [$"{id}/weight"], $"{id}/scale"));
            }
            else if (node.OpType == QuantizedLinearRewriter.Fp4Operator)
            {
                var packed = initializers[node.Input[1]];
                var codes = packed.Clone();
                codes.Name = $"{id}/fp4";
                codes.DataType = (int)DataType.Float4E2M1;
                codes.Dims[1] *= 2;
                graph.Initializer.Add(codes);
                var scales = initializers[node.Input[2]].Clone();
                scales.Name = $"{id}/scales_e4m3";
                scales.DataType = (int)DataType.Float8E4M3Fn;
                graph.Initializer.Add(scales);
                graph.Initializer.Add(OnnxProtoFactory.FloatTensor($"{id}/one", [], [1f]));
                var rows = new TensorProto { Name = $"{id}/rows", DataType = (int)DataType.Int64, RawData = ByteString.CopyFrom(Enumerable.Range(0, (int)packed.Dims[0]).SelectMany(i => BitConverter.GetBytes((long)i)).ToArray()) };
                rows.Dims.Add(packed.Dims[0]);
                graph.Initializer.Add(rows);
                nodes.Add(OnnxProtoFactory.Node("DequantizeLinear", [scales.Name, $"{id}/one"], [$"{id}/block_scales"], $"{id}/dq"));
                nodes.Add(OnnxProtoFactory.Node("Mul", [$"{id}/block_scales", node.Input[3]], [$"{id}/scales"], $"{id}/global"));
                var gather = OnnxProtoFactory.Node("GatherBlockQuantized", [codes.Name, rows.Name, $"{id}/scales"], [$"{id}/weight"], $"{id}/unpack", OnnxGraphBuilder.MicrosoftDomain)
                    .WithAttribute("gather_axis", 0L).WithAttribute("quantize_axis", 1L).WithAttribute("block_size", 16L);
                nodes.Add(gather);
            }
            else
            {
                nodes.Add(node);
                continue;
            }

            nodes.Add(OnnxProtoFactory.Node("FusedMatMul", [node.Input[0], $"{id}/weight"], [.. node.Output], $"{id}/matmul", OnnxGraphBuilder.MicrosoftDomain).WithAttribute("transB", 1L));
        }

        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        return model;
    }

    private static float[] Run(ModelProto model, string folder)
    {
        using var session = CreateOnCpu(model, folder);
        return Run(session);
    }

    private static float[] Run(InferenceSession session)
    {
        const int imageTokens = 16;
        const int textTokens = 8;
        var contextDim = TinyCheckpoint.TransformerConfig.ContextDim;
        using var results = session.Run(
        [
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.HiddenStates, new DenseTensor<float>(Enumerable.Range(0, imageTokens * 128).Select(i => MathF.Sin(0.1f * i)).ToArray(), [1, imageTokens, 128])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.EncoderHiddenStates, new DenseTensor<float>(Enumerable.Range(0, textTokens * contextDim).Select(i => MathF.Cos(0.07f * i)).ToArray(), [1, textTokens, contextDim])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.Timestep, new DenseTensor<float>(new[] { 0.4f }, [1])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.ImageIds, new DenseTensor<float>(new float[imageTokens * 4], [imageTokens, 4])),
            NamedOnnxValue.CreateFromTensor(Flux2TransformerGraph.TextIds, new DenseTensor<float>(new float[textTokens * 4], [textTokens, 4])),
        ]);
        return results[0].AsTensor<float>().ToArray();
    }
}
