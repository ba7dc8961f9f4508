using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace FluxWeb.Inference.SafeTensors;

/// <summary>
/// A parsed safetensors file: an 8-byte little-endian header length, a JSON header, then raw
/// little-endian tensor bytes. Only the header is read on open; every claim in it (dtype, shape,
/// offsets) is checked against the file so a lying or truncated file fails here, with a message,
/// instead of crashing a session later.
/// </summary>
public sealed class SafeTensorsFile
{
    /// <summary>Headers of real checkpoints are tens of kilobytes; anything near this is not a weight file.</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    private SafeTensorsFile(string path, long fileLength, long dataStart, Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        FileLength = fileLength;
        DataStart = dataStart;
        Tensors = tensors;
        Metadata = metadata;
    }

    public string Path { get; }

    public long FileLength { get; }

    public long DataStart { get; }

    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    public static SafeTensorsFile Open(string path)
    {
        var shown = System.IO.Path.GetFileName(path);
        if (!File.Exists(path))
        {
            throw new SafeTensorsException(shown, "does not exist.");
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);
        var fileLength = stream.Length;
        if (fileLength < 8)
        {
            throw new SafeTensorsException(shown, $"is truncated: {fileLength} bytes, not even the 8-byte header length.");
        }

        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)MaxHeaderBytes || (long)headerLength > fileLength - 8)
        {
            throw new SafeTensorsException(shown, $"declares a {headerLength}-byte header but the file has {fileLength} bytes: truncated or not a safetensors file.");
        }

        var header = new byte[headerLength];
        stream.ReadExactly(header);
        var dataStart = 8 + (long)headerLength;
        var (tensors, metadata) = ParseHeader(shown, header, dataStart, fileLength);
        return new SafeTensorsFile(path, fileLength, dataStart, tensors, metadata);
    }

    private static (Dictionary<string, SafeTensorInfo>, Dictionary<string, string>) ParseHeader(string shown, byte[] header, long dataStart, long fileLength)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header);
        }
        catch (JsonException ex)
        {
            throw new SafeTensorsException(shown, $"has a header that is not valid JSON ({ex.Message}).", inner: ex);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new SafeTensorsException(shown, "has a header that is not a JSON object.");
            }

            var tensors = new Dictionary<string, SafeTensorInfo>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    if (property.Value.ValueKind == JsonValueKind.Object)
                    {
                        foreach (var entry in property.Value.EnumerateObject())
                        {
                            metadata[entry.Name] = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()! : entry.Value.GetRawText();
                        }
                    }

                    continue;
                }

                tensors[property.Name] = ParseTensor(shown, property, dataStart, fileLength);
            }

            CheckNoOverlap(shown, tensors.Values);
            return (tensors, metadata);
        }
    }

    private static SafeTensorInfo ParseTensor(string shown, JsonProperty property, long dataStart, long fileLength)
    {
        var name = property.Name;
        var value = property.Value;
        if (value.ValueKind != JsonValueKind.Object
            || !value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String
            || !value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array
            || !value.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array || offsetsElement.GetArrayLength() != 2)
        {
            throw new SafeTensorsException(shown, "needs \"dtype\", \"shape\" and two \"data_offsets\".", name);
        }

        var dtypeText = dtypeElement.GetString()!;
        if (!SafeTensorDTypes.TryParse(dtypeText, out var dtype))
        {
            throw new SafeTensorsException(shown, $"has an unknown dtype '{dtypeText}'.", name);
        }

        var shape = new long[shapeElement.GetArrayLength()];
        var i = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out var size) || size < 0)
            {
                throw new SafeTensorsException(shown, $"has an invalid shape {shapeElement.GetRawText()}.", name);
            }

            shape[i++] = size;
        }

        if (!offsetsElement[0].TryGetInt64(out var begin) || !offsetsElement[1].TryGetInt64(out var end) || begin < 0 || end < begin)
        {
            throw new SafeTensorsException(shown, $"has invalid data_offsets {offsetsElement.GetRawText()}.", name);
        }

        long expected;
        try
        {
            expected = checked(shape.Aggregate(1L, (a, b) => checked(a * b)) * dtype.SizeInBytes());
        }
        catch (OverflowException)
        {
            throw new SafeTensorsException(shown, $"has an impossibly large shape {shapeElement.GetRawText()}.", name);
        }

        if (end - begin != expected)
        {
            throw new SafeTensorsException(shown, $"is {dtypeText} {shapeElement.GetRawText()} ({expected} bytes) but its data_offsets span {end - begin} bytes.", name);
        }

        if (dataStart + end > fileLength)
        {
            throw new SafeTensorsException(shown, $"ends at byte {dataStart + end} but the file has {fileLength} bytes: the file is truncated.", name);
        }

        return new SafeTensorInfo(name, dtype, shape, dataStart + begin, end - begin);
    }

    private static void CheckNoOverlap(string shown, IEnumerable<SafeTensorInfo> tensors)
    {
        SafeTensorInfo? previous = null;
        foreach (var tensor in tensors.Where(t => t.Length > 0).OrderBy(t => t.Offset))
        {
            if (previous is not null && tensor.Offset < previous.Offset + previous.Length)
            {
                throw new SafeTensorsException(shown, $"overlaps tensor '{previous.Name}': the header's offsets are inconsistent.", tensor.Name);
            }

            previous = tensor;
        }
    }

    public SafeTensorInfo Get(string name) =>
        Tensors.TryGetValue(name, out var info) ? info : throw new SafeTensorsException(System.IO.Path.GetFileName(Path), "is not in this file.", name);

    public byte[] ReadBytes(string name)
    {
        var info = Get(name);
        var bytes = new byte[info.Length];
        using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess);
        stream.Position = info.Offset;
        stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>Reads a floating-point tensor widened to float32 (BF16, F16, F8 and F64 are converted).</summary>
    public float[] ReadFloat32(string name)
    {
        var info = Get(name);
        var bytes = ReadBytes(name);
        return TensorConversion.ToFloat32(bytes, info.DType, System.IO.Path.GetFileName(Path), name);
    }

    public long[] ReadInt64(string name)
    {
        var info = Get(name);
        if (info.DType != SafeTensorDType.I64)
        {
            throw new SafeTensorsException(System.IO.Path.GetFileName(Path), $"is {info.DType}, expected I64.", name);
        }

        return MemoryMarshal.Cast<byte, long>(ReadBytes(name)).ToArray();
    }
}
