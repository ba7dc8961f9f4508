using Google.Protobuf;
using Onnx;

namespace FluxWeb.Inference.Onnx;

/// <summary>Small helpers over the ONNX protobuf classes for building graphs in code.</summary>
public static class OnnxProtoFactory
{
    public const long IrVersion = 10;

    public static ModelProto Model(GraphProto graph, long opset = 21, params (string Domain, long Version)[] extraOpsets)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "FluxWeb",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        foreach (var (domain, version) in extraOpsets)
        {
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        }

        return model;
    }

    /// <summary>A tensor input/output description; a null entry in <paramref name="shape"/> or a string makes that dimension symbolic.</summary>
    public static ValueInfoProto TensorValue(string name, TensorProto.Types.DataType elementType, params object[] shape)
    {
        var tensorShape = new TensorShapeProto();
        foreach (var dim in shape)
        {
            tensorShape.Dim.Add(dim switch
            {
                long value => new TensorShapeProto.Types.Dimension { DimValue = value },
                int value => new TensorShapeProto.Types.Dimension { DimValue = value },
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                _ => throw new ArgumentException($"Dimension '{dim}' must be an int, a long or a symbolic name."),
            });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType, Shape = tensorShape },
            },
        };
    }

    public static TensorProto FloatTensor(string name, long[] dims, ReadOnlySpan<float> values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        tensor.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
        return tensor;
    }

    public static NodeProto Node(string opType, string[] inputs, string[] outputs, string? name = null, string domain = "")
    {
        var node = new NodeProto { OpType = opType, Name = name ?? $"{opType}_{outputs[0]}", Domain = domain };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        return node;
    }

    public static NodeProto WithAttribute(this NodeProto node, string name, long value)
    {
        node.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value });
        return node;
    }

    public static NodeProto WithAttribute(this NodeProto node, string name, float value)
    {
        node.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value });
        return node;
    }

    public static NodeProto WithAttribute(this NodeProto node, string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        node.Attribute.Add(attribute);
        return node;
    }

    public static byte[] ToBytes(this ModelProto model) => model.ToByteArray();
}
