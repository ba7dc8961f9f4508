using Google.Protobuf;
using FluxWeb.Inference.SafeTensors;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace FluxWeb.Inference.Onnx;

/// <summary>
/// Builds an ONNX graph in code. Weights are bound as external data pointing at their bytes inside
/// the checkpoint's .safetensors files (no copy); a Cast or DequantizeLinear follows when the
/// stored type differs from the compute type. Node names carry the module path of the weights they
/// use, so a profile or an error names the block at fault.
/// </summary>
public sealed class OnnxGraphBuilder
{
    public const string MicrosoftDomain = "com.microsoft";

    private readonly GraphProto graph;
    private readonly string modelDirectory;
    private readonly Dictionary<string, string> boundWeights = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> constants = new(StringComparer.Ordinal);
    private readonly Stack<string> scopes = new();
    private readonly HashSet<string> usedNames = new(StringComparer.Ordinal);
    private int counter;

    /// <param name="name">Graph name.</param>
    /// <param name="precision">Compute precision of the body.</param>
    /// <param name="modelDirectory">Folder the .onnx file will be saved in; every weight file must lie inside it.</param>
    public OnnxGraphBuilder(string name, ComputePrecision precision, string modelDirectory)
    {
        graph = new GraphProto { Name = name };
        Precision = precision;
        this.modelDirectory = Path.GetFullPath(modelDirectory);
    }

    public ComputePrecision Precision { get; }

    public DataType ComputeType => Precision.ToDataType();

    public int NodeCount => graph.Node.Count;

    public long BoundParameterCount { get; private set; }

    /// <summary>Prefix for the names of nodes created inside the returned scope.</summary>
    public IDisposable Scope(string name)
    {
        scopes.Push(name);
        return new PopScope(scopes);
    }

    public string Input(string name, DataType type, params object[] dims)
    {
        graph.Input.Add(OnnxProtoFactory.TensorValue(name, type, dims));
        usedNames.Add(name);
        return name;
    }

    /// <summary>Exposes an intermediate value as an extra float32 output (debugging and oracle tests).</summary>
    public void Tap(string value, string name) => Output(Precision == ComputePrecision.Float32 ? value : Cast(value, DataType.Float), name, DataType.Float);

    /// <summary>Declares <paramref name="value"/> as the graph output <paramref name="name"/> of element type <paramref name="type"/>; the caller casts first when the body computes in another type.</summary>
    public void Output(string value, string name, DataType type, params object[] dims)
    {
        var produced = Op("Identity", [value], outputName: name);
        graph.Output.Add(OnnxProtoFactory.TensorValue(produced, type, dims));
    }

    public string Op(string opType, string[] inputs, Action<NodeAttributes>? attributes = null, string domain = "", string? outputName = null) =>
        Ops(opType, inputs, 1, attributes, domain, outputName is null ? null : [outputName])[0];

    public string[] Ops(string opType, string[] inputs, int outputCount, Action<NodeAttributes>? attributes = null, string domain = "", string[]? outputNames = null)
    {
        var nodeName = UniqueName(opType);
        var outputs = outputNames ?? Enumerable.Range(0, outputCount).Select(i => outputCount == 1 ? nodeName : $"{nodeName}:{i}").ToArray();
        var node = new NodeProto { OpType = opType, Name = nodeName, Domain = domain };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        attributes?.Invoke(new NodeAttributes(node));
        graph.Node.Add(node);
        foreach (var output in outputs)
        {
            usedNames.Add(output);
        }

        return outputs;
    }

    /// <summary>Casts to the compute type (a no-op when it already is).</summary>
    public string ToCompute(string value, DataType currentType) =>
        currentType == ComputeType ? value : Op("Cast", [value], a => a.Int("to", (long)ComputeType));

    public string Cast(string value, DataType to) => Op("Cast", [value], a => a.Int("to", (long)to));

    /// <summary>A float constant in the compute type (computed in float32, stored in the compute type).</summary>
    public string Constant(float[] values, params long[] dims)
    {
        var key = $"f:{ComputeType}:{string.Join(",", dims)}:{Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()))}";
        if (constants.TryGetValue(key, out var existing))
        {
            return existing;
        }

        var name = UniqueName("const");
        var tensor = new TensorProto { Name = name, DataType = (int)ComputeType };
        tensor.Dims.AddRange(dims);
        tensor.RawData = ByteString.CopyFrom(EncodeFloats(values, ComputeType));
        graph.Initializer.Add(tensor);
        constants[key] = name;
        return name;
    }

    public string Scalar(float value) => Constant([value]);

    /// <summary>A float32 constant regardless of the compute type (for maths that must stay exact, e.g. RoPE angles).</summary>
    public string Float32Constant(float[] values, params long[] dims)
    {
        var key = $"f32:{string.Join(",", dims)}:{Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()))}";
        if (constants.TryGetValue(key, out var existing))
        {
            return existing;
        }

        var name = UniqueName("const");
        graph.Initializer.Add(OnnxProtoFactory.FloatTensor(name, dims, values));
        constants[key] = name;
        return name;
    }

    /// <summary>A float64 constant, for position maths that must not lose precision (RoPE angles of large positions).</summary>
    public string DoubleConstant(double[] values, params long[] dims)
    {
        var key = $"d:{string.Join(",", dims)}:{Convert.ToBase64String(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()))}";
        if (constants.TryGetValue(key, out var existing))
        {
            return existing;
        }

        var name = UniqueName("const");
        var tensor = new TensorProto { Name = name, DataType = (int)DataType.Double };
        tensor.Dims.AddRange(dims);
        tensor.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        graph.Initializer.Add(tensor);
        constants[key] = name;
        return name;
    }

    public string Int64(params long[] values) => Int64Tensor(values, [values.Length]);

    public string Int64Scalar(long value) => Int64Tensor([value], []);

    private string Int64Tensor(long[] values, long[] dims)
    {
        var key = $"i:{string.Join(",", dims)}:{string.Join(",", values)}";
        if (constants.TryGetValue(key, out var existing))
        {
            return existing;
        }

        var name = UniqueName("const");
        var tensor = new TensorProto { Name = name, DataType = (int)DataType.Int64 };
        tensor.Dims.AddRange(dims);
        tensor.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        graph.Initializer.Add(tensor);
        constants[key] = name;
        return name;
    }

    /// <summary>
    /// Binds a checkpoint tensor as an initializer in the compute type. A tensor bound twice is the
    /// same initializer. FP8 tensors need <paramref name="scale"/> (their per-tensor weight_scale).
    /// </summary>
    public string Weight(WeightSet weights, string name, long[]? expectedShape = null, string? scale = null)
    {
        var cacheKey = $"{weights.Source}|{name}";
        if (boundWeights.TryGetValue(cacheKey, out var bound))
        {
            return bound;
        }

        var weight = expectedShape is null ? weights.Get(name) : weights.Get(name, expectedShape);
        var raw = AddExternalInitializer(weights, weight);
        string value;
        if (weight.Info.DType == SafeTensorDType.F8_E4M3 || weight.Info.DType == SafeTensorDType.F8_E5M2)
        {
            if (scale is null)
            {
                throw new SafeTensorsException(Path.GetFileName(weight.File.Path), "is FP8 but the graph was given no weight_scale for it.", name);
            }

            var scaleValue = Weight32(weights, scale);
            // DequantizeLinear is not constant-folded by ONNX Runtime, so the weight stays FP8 in memory.
            value = ToCompute(Op("DequantizeLinear", [raw, scaleValue]), DataType.Float);
        }
        else
        {
            var stored = ToOnnx(weight.Info.DType, weight.File.Path, name);
            value = ToCompute(raw, stored);
            if (stored != ComputeType)
            {
                castWeights.Add(name);
            }
        }

        boundWeights[cacheKey] = value;
        return value;
    }

    private readonly HashSet<string> castWeights = new(StringComparer.Ordinal);

    /// <summary>
    /// Checkpoint tensors this graph binds in another type than it computes in, so ONNX Runtime casts
    /// them every time the session loads (a package build can store them in the compute type instead).
    /// </summary>
    public IReadOnlyCollection<string> CastWeights => castWeights;

    /// <summary>Binds a checkpoint tensor exactly as stored (no cast), for graphs that unpack it themselves.</summary>
    public string RawWeight(WeightSet weights, string name) => AddExternalInitializer(weights, weights.Get(name));

    /// <summary>
    /// Binds a checkpoint tensor's bytes under another ONNX element type and shape (e.g. U8 packed
    /// pairs as FLOAT4E2M1 [rows, 2·columns]); the bytes must be exactly what that type and shape hold.
    /// </summary>
    public string RawWeight(WeightSet weights, string name, DataType declaredType, params long[] dims) =>
        AddExternalInitializer(weights, weights.Get(name), (declaredType, dims));

    public string Uint8Scalar(byte value)
    {
        var key = $"u8:{value}";
        if (constants.TryGetValue(key, out var existing))
        {
            return existing;
        }

        var name = UniqueName("const");
        graph.Initializer.Add(new TensorProto { Name = name, DataType = (int)DataType.Uint8, RawData = ByteString.CopyFrom([value]) });
        constants[key] = name;
        return name;
    }

    /// <summary>Binds a checkpoint tensor as float32 whatever the compute type (scales, norm statistics).</summary>
    public string Weight32(WeightSet weights, string name)
    {
        var cacheKey = $"{weights.Source}|{name}|f32";
        if (boundWeights.TryGetValue(cacheKey, out var bound))
        {
            return bound;
        }

        var weight = weights.Get(name);
        var raw = AddExternalInitializer(weights, weight);
        var type = ToOnnx(weight.Info.DType, weight.File.Path, name);
        var value = type == DataType.Float ? raw : Cast(raw, DataType.Float);
        boundWeights[cacheKey] = value;
        return value;
    }

    private readonly Dictionary<string, string> externalInitializers = new(StringComparer.Ordinal);

    private string AddExternalInitializer(WeightSet weights, WeightRef weight, (DataType Type, long[] Dims)? declared = null)
    {
        var key = declared is { } d ? $"{weight.File.Path}|{weight.Name}|{d.Type}" : $"{weight.File.Path}|{weight.Name}";
        if (externalInitializers.TryGetValue(key, out var existing))
        {
            return existing;
        }

        weights.MarkBound(weight.Name);
        // Packed 4-bit weights hold two parameters a byte: count the declared shape.
        BoundParameterCount += declared is { } counted ? counted.Dims.Aggregate(1L, (a, b) => a * b) : weight.Info.ElementCount;
        var location = Path.GetRelativePath(modelDirectory, Path.GetFullPath(weight.File.Path)).Replace('\\', '/');
        if (location.StartsWith("..", StringComparison.Ordinal) || Path.IsPathRooted(location))
        {
            throw new InvalidOperationException($"Weight file {weight.File.Path} must be inside the model folder {modelDirectory} (ONNX Runtime refuses external data outside it).");
        }

        var name = usedNames.Contains(weight.Name) ? UniqueName(weight.Name) : weight.Name;
        usedNames.Add(name);
        var tensor = new TensorProto
        {
            Name = name,
            DataType = (int)(declared?.Type ?? ToOnnx(weight.Info.DType, weight.File.Path, weight.Name)),
            DataLocation = TensorProto.Types.DataLocation.External,
        };
        if (declared is { } view)
        {
            var bits = view.Type switch { DataType.Float4E2M1 or DataType.Int4 or DataType.Uint4 => 4, DataType.Float8E4M3Fn or DataType.Float8E5M2 or DataType.Uint8 or DataType.Int8 => 8, _ => throw new ArgumentException($"Binding bytes as {view.Type} is not supported.", nameof(declared)) };
            if (view.Dims.Aggregate(1L, (a, b) => a * b) * bits != weight.Info.Length * 8)
            {
                throw new SafeTensorsException(Path.GetFileName(weight.File.Path), $"holds {weight.Info.Length} bytes, not the {view.Type} [{string.Join(",", view.Dims)}] the graph reads.", weight.Name);
            }

            tensor.Dims.AddRange(view.Dims);
        }
        else
        {
            tensor.Dims.AddRange(weight.Info.Shape);
        }
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = weight.Info.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = weight.Info.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        graph.Initializer.Add(tensor);
        externalInitializers[key] = name;
        return name;
    }

    public static DataType ToOnnx(SafeTensorDType dtype, string file = "", string tensor = "") => dtype switch
    {
        SafeTensorDType.F32 => DataType.Float,
        SafeTensorDType.F16 => DataType.Float16,
        SafeTensorDType.BF16 => DataType.Bfloat16,
        SafeTensorDType.F64 => DataType.Double,
        SafeTensorDType.F8_E4M3 => DataType.Float8E4M3Fn,
        SafeTensorDType.F8_E5M2 => DataType.Float8E5M2,
        SafeTensorDType.I64 => DataType.Int64,
        SafeTensorDType.I32 => DataType.Int32,
        SafeTensorDType.I16 => DataType.Int16,
        SafeTensorDType.I8 => DataType.Int8,
        SafeTensorDType.U8 => DataType.Uint8,
        SafeTensorDType.BOOL => DataType.Bool,
        _ => throw new SafeTensorsException(Path.GetFileName(file), $"has dtype {dtype}, which ONNX cannot hold.", tensor),
    };

    public ModelProto Build(long opset = 21)
    {
        var model = OnnxProtoFactory.Model(graph, opset, (MicrosoftDomain, 1));
        model.ProducerName = "FluxWeb graph builder";
        return model;
    }

    public void Save(string path, long opset = 21)
    {
        var full = Path.GetFullPath(path);
        if (!string.Equals(Path.GetDirectoryName(full), modelDirectory.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"The graph was built for {modelDirectory}; saving it as {full} would break its weight paths.");
        }

        using var stream = File.Create(full);
        Build(opset).WriteTo(stream);
    }

    private string UniqueName(string hint)
    {
        var prefix = scopes.Count == 0 ? "" : string.Join("/", scopes.Reverse()) + "/";
        string name;
        do
        {
            name = $"{prefix}{hint}_{counter++}";
        }
        while (usedNames.Contains(name));

        usedNames.Add(name);
        return name;
    }

    private static byte[] EncodeFloats(float[] values, DataType type)
    {
        switch (type)
        {
            case DataType.Float16:
                return System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.Select(v => (Half)v).ToArray().AsSpan()).ToArray();
            case DataType.Bfloat16:
            {
                var bytes = new byte[values.Length * 2];
                for (var i = 0; i < values.Length; i++)
                {
                    System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), TensorConversion.FloatToBFloat16(values[i]));
                }

                return bytes;
            }

            default:
                return System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        }
    }

    private sealed class PopScope(Stack<string> scopes) : IDisposable
    {
        public void Dispose() => scopes.Pop();
    }
}

/// <summary>Attribute setters for the node being created.</summary>
public sealed class NodeAttributes(NodeProto node)
{
    public NodeAttributes Int(string name, long value)
    {
        node.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value });
        return this;
    }

    public NodeAttributes Float(string name, float value)
    {
        node.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value });
        return this;
    }

    public NodeAttributes Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        node.Attribute.Add(attribute);
        return this;
    }

    public NodeAttributes String(string name, string value)
    {
        node.Attribute.Add(new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) });
        return this;
    }
}
