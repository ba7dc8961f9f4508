using Google.Protobuf;
using Onnx;

namespace FluxWeb.Provenance.Tests.Filters;

/// <summary>Tiny ONNX models with the classifier contracts' inputs and outputs, built in code.</summary>
internal static class TestClassifierModels
{
    /// <summary>
    /// pixel_values [N,3,224,224] → GlobalAveragePool → Flatten → Gemm → logits [N,2] with logits = (−5r, 5r), r the mean
    /// normalised red: red pictures read as nsfw (p ≈ 1), blue ones as normal, mid-grey at p ≈ 0.5.
    /// </summary>
    public static byte[] RedIsNsfw()
    {
        var graph = new GraphProto { Name = "red-is-nsfw" };
        graph.Input.Add(Tensor("pixel_values", TensorProto.Types.DataType.Float, "N", 3, 224, 224));
        graph.Output.Add(Tensor("logits", TensorProto.Types.DataType.Float, "N", 2));
        graph.Initializer.Add(Floats("weights", [3, 2], [-5f, 5f, 0f, 0f, 0f, 0f]));
        graph.Initializer.Add(Floats("bias", [2], [0f, 0f]));
        graph.Node.Add(Node("GlobalAveragePool", ["pixel_values"], ["pooled"]));
        graph.Node.Add(Node("Flatten", ["pooled"], ["features"]));
        graph.Node.Add(Node("Gemm", ["features", "weights", "bias"], ["logits"]));
        return Model(graph);
    }

    /// <summary>text [N] string → CategoryMapper (exact match "forbidden request" → 1) → probability [N] float.</summary>
    public static byte[] ExactPhraseIsUnsafe()
    {
        var graph = new GraphProto { Name = "exact-phrase" };
        graph.Input.Add(Tensor("text", TensorProto.Types.DataType.String, "N"));
        graph.Output.Add(Tensor("probability", TensorProto.Types.DataType.Float, "N"));
        var mapper = Node("CategoryMapper", ["text"], ["label"], "ai.onnx.ml");
        mapper.Attribute.Add(new AttributeProto { Name = "cats_strings", Type = AttributeProto.Types.AttributeType.Strings, Strings = { ByteString.CopyFromUtf8("forbidden request") } });
        mapper.Attribute.Add(new AttributeProto { Name = "cats_int64s", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 1 } });
        mapper.Attribute.Add(new AttributeProto { Name = "default_int64", Type = AttributeProto.Types.AttributeType.Int, I = 0 });
        graph.Node.Add(mapper);
        var cast = Node("Cast", ["label"], ["probability"]);
        cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)TensorProto.Types.DataType.Float });
        graph.Node.Add(cast);
        return Model(graph);
    }

    /// <summary>Right tensor names, wrong shape: [N,3,64,64].</summary>
    public static byte[] WrongInputSize()
    {
        var graph = new GraphProto { Name = "wrong-size" };
        graph.Input.Add(Tensor("pixel_values", TensorProto.Types.DataType.Float, "N", 3, 64, 64));
        graph.Output.Add(Tensor("pooled", TensorProto.Types.DataType.Float, "N", 3, 1, 1));
        graph.Node.Add(Node("GlobalAveragePool", ["pixel_values"], ["pooled"]));
        return Model(graph);
    }

    private static byte[] Model(GraphProto graph)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "FluxWeb.Provenance.Tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "ai.onnx.ml", Version = 3 });
        return model.ToByteArray();
    }

    private static NodeProto Node(string op, string[] inputs, string[] outputs, string domain = "")
    {
        var node = new NodeProto { OpType = op, Name = op, Domain = domain };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        return node;
    }

    private static ValueInfoProto Tensor(string name, TensorProto.Types.DataType type, params object[] shape)
    {
        var dims = new TensorShapeProto();
        foreach (var dim in shape)
        {
            dims.Dim.Add(dim is string symbol ? new TensorShapeProto.Types.Dimension { DimParam = symbol } : new TensorShapeProto.Types.Dimension { DimValue = (int)dim });
        }

        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = dims } } };
    }

    private static TensorProto Floats(string name, long[] dims, float[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        tensor.FloatData.AddRange(values);
        return tensor;
    }
}
