using Google.Protobuf;
using Onnx;
using FluxWeb.Inference.Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Transformer;

/// <summary>
/// Turns the portable quantized linears of a transformer graph (see <see cref="QuantizedLinears"/>)
/// into ONNX Runtime's fused CUDA kernels when the model is loaded on a GPU that has them, so the
/// weights stay quantized in device memory and are dequantised tile by tile inside the matmul:
/// <list type="bullet">
/// <item>FP8: <c>com.microsoft::MatMulBlockQuantizedFp8Weight(A, B [N,K] e4m3, b_scale [N,1])</c>, block_size = K
/// (BFL's per-tensor scale is one block scale per row, repeated);</item>
/// <item>NVFP4: <c>com.microsoft::MatMulBlockQuantizedFp4Weight(A, B [N,K/2] u8, weight_scale [N,K/16] u8, weight_scale_2)</c>, block_size = 16.</item>
/// </list>
/// The graph on disk stays the portable one (it runs everywhere, and the CPU tests run it); this
/// happens in memory at load time.
/// </summary>
public static class QuantizedLinearRewriter
{
    public const string Fp8Operator = "MatMulBlockQuantizedFp8Weight";
    public const string Fp4Operator = "MatMulBlockQuantizedFp4Weight";

    public sealed record Result(ModelProto Model, int Fp8Linears, int Fp4Linears);

    /// <param name="fp8">Rewrite FP8 linears (the engine does from compute capability 8.9).</param>
    /// <param name="fp4">Rewrite NVFP4 linears (any CUDA GPU).</param>
    public static Result Rewrite(ModelProto portable, bool fp8, bool fp4)
    {
        var model = portable.Clone();
        var graph = model.Graph;
        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            foreach (var output in node.Output)
            {
                producers[output] = node;
            }
        }

        var initializers = graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var replacements = new Dictionary<NodeProto, List<NodeProto>>();
        var (fp8Count, fp4Count) = (0, 0);
        foreach (var matmul in graph.Node.Where(n => n.OpType == "FusedMatMul" && n.Domain == OnnxGraphBuilder.MicrosoftDomain).ToList())
        {
            if (!IsPlainLinear(matmul) || !producers.TryGetValue(matmul.Input[1], out var weightProducer))
            {
                continue;
            }

            // fp32 and bf16 graphs cast the dequantised weight; fp16 graphs dequantise straight to fp16.
            var dequantise = weightProducer.OpType == "Cast" && producers.TryGetValue(weightProducer.Input[0], out var beforeCast) ? beforeCast : weightProducer;
            if (fp8 && dequantise.OpType == "DequantizeLinear" && Fp8Weight(dequantise, producers, initializers) is { } fp8Weight)
            {
                var (n, k) = (fp8Weight.Dims[0], fp8Weight.Dims[1]);
                var scale = Unwrap(dequantise.Input[1], producers, "Cast");
                var rowScales = Add(graph, Int64Tensor($"{matmul.Name}/rows_by_1", n, 1));
                var expand = new NodeProto { OpType = "Expand", Name = $"{matmul.Name}/row_scales", Output = { $"{matmul.Name}/row_scales" } };
                expand.Input.AddRange([scale, rowScales]);
                var fused = new NodeProto { OpType = Fp8Operator, Domain = OnnxGraphBuilder.MicrosoftDomain, Name = matmul.Name };
                fused.Input.AddRange([matmul.Input[0], fp8Weight.Name, expand.Output[0]]);
                fused.Output.AddRange(matmul.Output);
                fused.Attribute.Add(new AttributeProto { Name = "block_size", Type = AttributeProto.Types.AttributeType.Int, I = k });
                replacements[matmul] = [expand, fused];
                fp8Count++;
            }
            else if (fp4 && dequantise.OpType == "GatherBlockQuantized" && Fp4Operands(dequantise, producers, initializers) is { } operands)
            {
                var (codes, blockScales, globalScale) = operands;
                var (n, k) = (codes.Dims[0], codes.Dims[1]);
                var packed = Add(graph, Retyped(codes, DataType.Uint8, n, k / 2));
                var scales = Add(graph, Retyped(blockScales, DataType.Uint8, n, k / Nvfp4.BlockSize));
                var fused = new NodeProto { OpType = Fp4Operator, Domain = OnnxGraphBuilder.MicrosoftDomain, Name = matmul.Name };
                fused.Input.AddRange([matmul.Input[0], packed, scales, globalScale]);
                fused.Output.AddRange(matmul.Output);
                fused.Attribute.Add(new AttributeProto { Name = "block_size", Type = AttributeProto.Types.AttributeType.Int, I = Nvfp4.BlockSize });
                replacements[matmul] = [fused];
                fp4Count++;
            }
        }

        if (replacements.Count == 0)
        {
            return new Result(model, 0, 0);
        }

        var nodes = graph.Node.SelectMany(n => replacements.TryGetValue(n, out var replacement) ? replacement : [n]).ToList();
        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        RemoveDead(graph);
        return new Result(model, fp8Count, fp4Count);
    }

    private static bool IsPlainLinear(NodeProto matmul) =>
        matmul.Attribute.All(a => a.Name switch
        {
            "transB" => a.I == 1,
            "alpha" => a.F == 1f,
            "transA" or "transBatchA" or "transBatchB" => a.I == 0,
            _ => false,
        }) && matmul.Attribute.Any(a => a.Name == "transB");

    /// <summary>The FP8 initializer a DequantizeLinear reads (through the just-in-time Reshape), if it is one.</summary>
    private static TensorProto? Fp8Weight(NodeProto dequantise, Dictionary<string, NodeProto> producers, Dictionary<string, TensorProto> initializers)
    {
        if (dequantise.Input.Count > 2 && dequantise.Input[2].Length > 0)
        {
            return null; // a zero point: not BFL's symmetric FP8
        }

        var source = Unwrap(dequantise.Input[0], producers, "Reshape");
        return initializers.TryGetValue(source, out var weight) && weight.DataType == (int)DataType.Float8E4M3Fn && weight.Dims.Count == 2 ? weight : null;
    }

    private static (TensorProto Codes, TensorProto BlockScales, string GlobalScale)? Fp4Operands(NodeProto gather, Dictionary<string, NodeProto> producers, Dictionary<string, TensorProto> initializers)
    {
        if (!initializers.TryGetValue(gather.Input[0], out var codes) || codes.DataType != (int)DataType.Float4E2M1 || codes.Dims.Count != 2)
        {
            return null;
        }

        // scales = [Cast] ← Mul(DequantizeLinear(block scales e4m3, 1), weight_scale_2)
        if (!producers.TryGetValue(Unwrap(gather.Input[2], producers, "Cast"), out var multiply) || multiply.OpType != "Mul"
            || !producers.TryGetValue(multiply.Input[0], out var scaleDequantise) || scaleDequantise.OpType != "DequantizeLinear"
            || !initializers.TryGetValue(scaleDequantise.Input[0], out var blockScales) || blockScales.DataType != (int)DataType.Float8E4M3Fn)
        {
            return null;
        }

        var globalScale = multiply.Input[1];
        return initializers.TryGetValue(globalScale, out var global) && global.DataType == (int)DataType.Float ? (codes, blockScales, globalScale) : null;
    }

    private static string Unwrap(string value, Dictionary<string, NodeProto> producers, string opType) =>
        producers.TryGetValue(value, out var node) && node.OpType == opType ? node.Input[0] : value;

    /// <summary>The same external bytes declared under another type and shape (the fused kernels take raw bytes).</summary>
    private static TensorProto Retyped(TensorProto tensor, DataType type, params long[] dims)
    {
        var copy = tensor.Clone();
        copy.Name = $"{tensor.Name}:{type.ToString().ToLowerInvariant()}";
        copy.DataType = (int)type;
        copy.Dims.Clear();
        copy.Dims.AddRange(dims);
        return copy;
    }

    private static TensorProto Int64Tensor(string name, params long[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)DataType.Int64, RawData = ByteString.CopyFrom(values.SelectMany(BitConverter.GetBytes).ToArray()) };
        tensor.Dims.Add(values.Length);
        return tensor;
    }

    private static string Add(GraphProto graph, TensorProto tensor)
    {
        if (graph.Initializer.All(i => i.Name != tensor.Name))
        {
            graph.Initializer.Add(tensor);
        }

        return tensor.Name;
    }

    /// <summary>Drops nodes whose outputs nobody reads (the dequantise chains), then initializers nobody reads.</summary>
    private static void RemoveDead(GraphProto graph)
    {
        while (true)
        {
            var used = graph.Node.SelectMany(n => n.Input).Concat(graph.Output.Select(o => o.Name)).ToHashSet(StringComparer.Ordinal);
            var dead = graph.Node.Where(n => n.Output.All(o => !used.Contains(o))).ToList();
            if (dead.Count == 0)
            {
                var read = graph.Node.SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);
                foreach (var initializer in graph.Initializer.Where(i => !read.Contains(i.Name)).ToList())
                {
                    graph.Initializer.Remove(initializer);
                }

                return;
            }

            foreach (var node in dead)
            {
                graph.Node.Remove(node);
            }
        }
    }
}
