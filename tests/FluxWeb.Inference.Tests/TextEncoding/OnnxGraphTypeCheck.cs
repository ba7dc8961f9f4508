using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Tests.TextEncoding;

/// <summary>
/// A structural check of a built model in the spirit of onnx.checker plus type inference, for graphs
/// no CPU kernel can run (bf16): every value is defined once and before use, every node's inputs
/// have the element types its operator accepts, and every declared output gets the declared type.
/// Knows the operators our graph builders emit; an unknown one fails the check rather than passing.
/// </summary>
internal static class OnnxGraphTypeCheck
{
    /// <summary>Returns the element type of every value, or throws naming the first node at fault.</summary>
    public static IReadOnlyDictionary<string, DataType> Check(ModelProto model)
    {
        var graph = model.Graph;
        var types = new Dictionary<string, DataType>(StringComparer.Ordinal);
        foreach (var input in graph.Input)
        {
            Define(types, input.Name, (DataType)input.Type.TensorType.ElemType, "graph input");
        }

        foreach (var initializer in graph.Initializer)
        {
            Define(types, initializer.Name, (DataType)initializer.DataType, "initializer");
        }

        var domains = model.OpsetImport.Select(o => o.Domain).ToHashSet(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            if (!domains.Contains(node.Domain))
            {
                throw new InvalidDataException($"{node.Name}: domain '{node.Domain}' has no opset import.");
            }

            var inputs = node.Input.Select(name => name.Length == 0
                ? (DataType?)null
                : types.TryGetValue(name, out var type) ? type : throw new InvalidDataException($"{node.Name} ({node.OpType}) reads '{name}' before anything defines it.")).ToArray();
            var output = InferOutput(node, inputs);
            foreach (var name in node.Output)
            {
                Define(types, name, output, node.Name);
            }
        }

        foreach (var output in graph.Output)
        {
            if (!types.TryGetValue(output.Name, out var produced))
            {
                throw new InvalidDataException($"Graph output '{output.Name}' is never produced.");
            }

            if (produced != (DataType)output.Type.TensorType.ElemType)
            {
                throw new InvalidDataException($"Graph output '{output.Name}' is declared {(DataType)output.Type.TensorType.ElemType} but computed as {produced}.");
            }
        }

        return types;
    }

    private static void Define(Dictionary<string, DataType> types, string name, DataType type, string by)
    {
        if (!types.TryAdd(name, type))
        {
            throw new InvalidDataException($"'{name}' is defined twice (again by {by}).");
        }
    }

    private static DataType InferOutput(NodeProto node, DataType?[] inputs)
    {
        DataType Input(int index) => index < inputs.Length && inputs[index] is { } type
            ? type
            : throw new InvalidDataException($"{node.Name} ({node.OpType}) lacks input {index}.");

        DataType Same(params int[] indices)
        {
            var present = indices.Where(i => i < inputs.Length && inputs[i] is not null).Select(i => inputs[i]!.Value).Distinct().ToList();
            return present.Count == 1
                ? present[0]
                : throw new InvalidDataException($"{node.Name} ({node.OpType}) mixes element types {string.Join(", ", present)}.");
        }

        void Require(int index, params DataType[] allowed)
        {
            if (!allowed.Contains(Input(index)))
            {
                throw new InvalidDataException($"{node.Name} ({node.OpType}) input {index} is {Input(index)}, expected {string.Join(" or ", allowed)}.");
            }
        }

        DataType Floating(DataType type) => type is DataType.Float or DataType.Float16 or DataType.Bfloat16
            ? type
            : throw new InvalidDataException($"{node.Name} ({node.OpType}) computes in {type}, not a floating-point type.");

        switch (node.OpType)
        {
            case "Cast":
                return (DataType)node.Attribute.Single(a => a.Name == "to").I;
            case "Shape":
                return DataType.Int64;
            case "LessOrEqual" or "Less" or "Greater" or "GreaterOrEqual" or "Equal":
                Same(0, 1);
                return DataType.Bool;
            case "And" or "Or" or "Not":
                Require(0, DataType.Bool);
                return Same([.. Enumerable.Range(0, inputs.Length)]);
            case "Gather":
                Require(1, DataType.Int64, DataType.Int32);
                return Input(0);
            case "Squeeze" or "Unsqueeze" or "Reshape" or "Expand":
                Require(1, DataType.Int64);
                return Input(0);
            case "Range" or "Add" or "Sub" or "Mul" or "Div" or "Concat":
                return Same([.. Enumerable.Range(0, inputs.Length)]);
            case "Identity":
                return Input(0);
            case "Sigmoid" or "Sqrt" or "Reciprocal" or "Softmax":
                return Floating(Input(0));
            case "SimplifiedLayerNormalization" or "LayerNormalization":
                return Floating(Same(0, 1));
            case "FusedMatMul" or "MatMul":
                return Floating(Same(0, 1));
            case "RotaryEmbedding":
                Require(1, DataType.Int64);
                return Floating(Same(0, 2, 3));
            case "MultiHeadAttention":
                return Floating(Same(0, 1, 2, 3, 5));
            default:
                throw new InvalidDataException($"{node.Name}: the type check has no rule for {node.Domain}:{node.OpType}.");
        }
    }
}
