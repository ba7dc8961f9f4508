using System.Globalization;
using Google.Protobuf;
using Onnx;

namespace FluxWeb.Inference.Packages;

/// <summary>One dimension of a graph input or output: a fixed size or a symbolic name.</summary>
public readonly record struct OnnxDimension(long? Value, string? Symbol)
{
    public override string ToString() => Value?.ToString(CultureInfo.InvariantCulture) ?? Symbol ?? "?";
}

/// <summary>A graph input or output as the ONNX file declares it; <see cref="Dimensions"/> is null when the file gives no shape.</summary>
public sealed record OnnxValueSignature(string Name, TensorProto.Types.DataType ElementType, IReadOnlyList<OnnxDimension>? Dimensions)
{
    public int? Rank => Dimensions?.Count;

    public string ShapeText => Dimensions is null ? "[?]" : $"[{string.Join(",", Dimensions)}]";
}

/// <summary>An initializer whose bytes live in another file (<c>location</c>, <c>offset</c>, <c>length</c>).</summary>
public sealed record OnnxExternalTensor(string Name, TensorProto.Types.DataType DataType, long[] Dimensions, string Location, long Offset, long? Length);

/// <summary>
/// What a package needs to know about an ONNX file without loading it: the graph's inputs, outputs
/// and external-data initializers. The protobuf is walked field by field and embedded tensor data is
/// skipped, so a 2 GB file with weights inside costs a few reads, not 2 GB of memory.
/// </summary>
public sealed class OnnxGraphSignature
{
    // Initializers with external data are a few hundred bytes; anything larger carries its own data.
    private const long LargestParsedInitializer = 1 << 20;

    private const int ModelGraphField = 7;
    private const int GraphInitializerField = 5;
    private const int GraphInputField = 11;
    private const int GraphOutputField = 12;

    private OnnxGraphSignature(IReadOnlyList<OnnxValueSignature> inputs, IReadOnlyList<OnnxValueSignature> outputs, IReadOnlyList<OnnxExternalTensor> externalTensors, IReadOnlySet<string> initializerNames)
    {
        Inputs = inputs;
        Outputs = outputs;
        ExternalTensors = externalTensors;
        InitializerNames = initializerNames;
    }

    /// <summary>The graph's inputs that are not initializers (older exports list weights as inputs too).</summary>
    public IReadOnlyList<OnnxValueSignature> Inputs { get; }

    public IReadOnlyList<OnnxValueSignature> Outputs { get; }

    public IReadOnlyList<OnnxExternalTensor> ExternalTensors { get; }

    public IReadOnlySet<string> InitializerNames { get; }

    public OnnxValueSignature? FindInput(string name) => Inputs.FirstOrDefault(i => i.Name == name);

    public OnnxValueSignature? FindOutput(string name) => Outputs.FirstOrDefault(o => o.Name == name);

    /// <exception cref="InvalidDataException">The file is not a readable ONNX model.</exception>
    public static OnnxGraphSignature Read(string path)
    {
        try
        {
            return ReadUnchecked(path);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new InvalidDataException($"{Path.GetFileName(path)} is not a readable ONNX model: {ex.Message}", ex);
        }
        catch (EndOfStreamException ex)
        {
            throw new InvalidDataException($"{Path.GetFileName(path)} is not a readable ONNX model: it ends inside a field (truncated?).", ex);
        }
    }

    private static OnnxGraphSignature ReadUnchecked(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.RandomAccess);
        var reader = new ProtoReader(stream, Path.GetFileName(path));
        var inputs = new List<OnnxValueSignature>();
        var outputs = new List<OnnxValueSignature>();
        var external = new List<OnnxExternalTensor>();
        var initializers = new HashSet<string>(StringComparer.Ordinal);
        var sawGraph = false;

        while (reader.Position < stream.Length)
        {
            var (field, wireType) = reader.ReadTag();
            if (field == ModelGraphField && wireType == ProtoReader.LengthDelimited)
            {
                sawGraph = true;
                var graphLength = reader.ReadLength();
                var graphEnd = reader.Position + graphLength;
                while (reader.Position < graphEnd)
                {
                    var (graphField, graphWire) = reader.ReadTag();
                    if (graphWire == ProtoReader.LengthDelimited && graphField is GraphInputField or GraphOutputField)
                    {
                        var value = ValueInfoProto.Parser.ParseFrom(reader.ReadBytes(reader.ReadLength()));
                        (graphField == GraphInputField ? inputs : outputs).Add(ToSignature(value));
                    }
                    else if (graphWire == ProtoReader.LengthDelimited && graphField == GraphInitializerField)
                    {
                        var length = reader.ReadLength();
                        if (length > LargestParsedInitializer)
                        {
                            reader.Skip(length);
                            continue;
                        }

                        var tensor = TensorProto.Parser.ParseFrom(reader.ReadBytes(length));
                        initializers.Add(tensor.Name);
                        if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
                        {
                            external.Add(ToExternal(tensor, reader.FileName));
                        }
                    }
                    else
                    {
                        reader.SkipField(graphWire);
                    }
                }

                if (reader.Position != graphEnd)
                {
                    throw reader.Corrupt("the graph's fields overrun its declared length");
                }
            }
            else
            {
                reader.SkipField(wireType);
            }
        }

        if (!sawGraph)
        {
            throw new InvalidDataException($"{reader.FileName} is not an ONNX model: it has no graph.");
        }

        return new OnnxGraphSignature(inputs.Where(i => !initializers.Contains(i.Name)).ToList(), outputs, external, initializers);
    }

    private static OnnxValueSignature ToSignature(ValueInfoProto value)
    {
        var tensorType = value.Type?.TensorType;
        var elementType = (TensorProto.Types.DataType)(tensorType?.ElemType ?? 0);
        IReadOnlyList<OnnxDimension>? dims = tensorType?.Shape is { } shape
            ? shape.Dim.Select(d => d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? new OnnxDimension(d.DimValue, null) : new OnnxDimension(null, d.DimParam)).ToList()
            : null;
        return new OnnxValueSignature(value.Name, elementType, dims);
    }

    private static OnnxExternalTensor ToExternal(TensorProto tensor, string file)
    {
        string? location = null;
        long offset = 0;
        long? length = null;
        foreach (var entry in tensor.ExternalData)
        {
            switch (entry.Key)
            {
                case "location":
                    location = entry.Value;
                    break;
                case "offset" when long.TryParse(entry.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var o):
                    offset = o;
                    break;
                case "length" when long.TryParse(entry.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var l):
                    length = l;
                    break;
            }
        }

        if (string.IsNullOrEmpty(location))
        {
            throw new InvalidDataException($"{file}: initializer '{tensor.Name}' is stored externally but names no location.");
        }

        return new OnnxExternalTensor(tensor.Name, (TensorProto.Types.DataType)tensor.DataType, tensor.Dims.ToArray(), location, offset, length);
    }

    /// <summary>The protobuf wire format, just enough to walk a message and skip what is not needed.</summary>
    private sealed class ProtoReader(Stream stream, string fileName)
    {
        public const int Varint = 0;
        public const int Fixed64 = 1;
        public const int LengthDelimited = 2;
        public const int Fixed32 = 5;

        public string FileName { get; } = fileName;

        public long Position => stream.Position;

        public (int Field, int WireType) ReadTag()
        {
            var tag = ReadVarint();
            var field = (int)(tag >> 3);
            if (field == 0)
            {
                throw Corrupt("a field number is 0");
            }

            return (field, (int)(tag & 7));
        }

        public long ReadLength()
        {
            var length = ReadVarint();
            if (length > (ulong)(stream.Length - stream.Position))
            {
                throw Corrupt($"a field claims {length} bytes but only {stream.Length - stream.Position} remain (truncated?)");
            }

            return (long)length;
        }

        public ByteString ReadBytes(long length)
        {
            var buffer = new byte[length];
            stream.ReadExactly(buffer);
            return ByteString.CopyFrom(buffer);
        }

        public void Skip(long length) => stream.Seek(length, SeekOrigin.Current);

        public void SkipField(int wireType)
        {
            switch (wireType)
            {
                case Varint:
                    ReadVarint();
                    break;
                case Fixed64:
                    Skip(8);
                    break;
                case LengthDelimited:
                    Skip(ReadLength());
                    break;
                case Fixed32:
                    Skip(4);
                    break;
                default:
                    throw Corrupt($"wire type {wireType} is not used by ONNX");
            }

            if (stream.Position > stream.Length)
            {
                throw Corrupt("a field runs past the end of the file (truncated?)");
            }
        }

        public InvalidDataException Corrupt(string problem) => new($"{FileName} is not a readable ONNX model: {problem} at byte {stream.Position}.");

        private ulong ReadVarint()
        {
            ulong result = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = stream.ReadByte();
                if (b < 0)
                {
                    throw Corrupt("the file ends inside a field");
                }

                result |= (ulong)(b & 0x7f) << shift;
                if ((b & 0x80) == 0)
                {
                    return result;
                }
            }

            throw Corrupt("a varint is longer than 10 bytes");
        }
    }
}
