using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace FluxWeb.Inference.SafeTensors;

/// <summary>
/// Writes safetensors files: the tiny seeded models every test runs, converted weights, and
/// header-only (sparse) files with official names and shapes whose data is never read.
/// </summary>
public sealed class SafeTensorsWriter
{
    private readonly List<(string Name, SafeTensorDType DType, long[] Shape, byte[]? Data, Func<byte[]>? Produce)> tensors = [];
    private readonly HashSet<string> names = new(StringComparer.Ordinal);

    public SafeTensorsWriter Add(string name, SafeTensorDType dtype, long[] shape, byte[]? data)
    {
        var expected = shape.Aggregate(1L, (a, b) => a * b) * dtype.SizeInBytes();
        if (data is not null && data.LongLength != expected)
        {
            throw new ArgumentException($"Tensor '{name}' is {dtype} {string.Join("x", shape)} ({expected} bytes) but {data.LongLength} bytes were given.", nameof(data));
        }

        if (!names.Add(name))
        {
            throw new ArgumentException($"Tensor '{name}' was added twice.", nameof(name));
        }

        tensors.Add((name, dtype, shape, data, null));
        return this;
    }

    /// <summary>
    /// Adds a tensor whose bytes are made only while <see cref="Write"/> reaches it, so a converted
    /// checkpoint of many gigabytes holds one tensor in memory at a time. All-zero data stays a hole
    /// (a sparse source converts to a sparse file).
    /// </summary>
    public SafeTensorsWriter Add(string name, SafeTensorDType dtype, long[] shape, Func<byte[]> produce)
    {
        if (!names.Add(name))
        {
            throw new ArgumentException($"Tensor '{name}' was added twice.", nameof(name));
        }

        tensors.Add((name, dtype, shape, null, produce));
        return this;
    }

    public SafeTensorsWriter AddFloat32(string name, long[] shape, ReadOnlySpan<float> values) =>
        Add(name, SafeTensorDType.F32, shape, MemoryMarshal.AsBytes(values).ToArray());

    public SafeTensorsWriter AddBFloat16(string name, long[] shape, ReadOnlySpan<float> values)
    {
        var bytes = new byte[values.Length * 2];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), TensorConversion.FloatToBFloat16(values[i]));
        }

        return Add(name, SafeTensorDType.BF16, shape, bytes);
    }

    public SafeTensorsWriter AddInt64(string name, long[] shape, ReadOnlySpan<long> values) =>
        Add(name, SafeTensorDType.I64, shape, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>
    /// Writes the file. Tensors added without data are left as holes (a sparse file on Linux), so a
    /// full-size checkpoint layout costs only its header on disk.
    /// </summary>
    public void Write(string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new Dictionary<string, object>(StringComparer.Ordinal);
        if (metadata is { Count: > 0 })
        {
            header["__metadata__"] = metadata;
        }

        long offset = 0;
        foreach (var tensor in tensors)
        {
            var length = tensor.Shape.Aggregate(1L, (a, b) => a * b) * tensor.DType.SizeInBytes();
            header[tensor.Name] = new Dictionary<string, object>
            {
                ["dtype"] = tensor.DType.HeaderName(),
                ["shape"] = tensor.Shape,
                ["data_offsets"] = new[] { offset, offset + length },
            };
            offset += length;
        }

        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        // The reference writer pads the header with spaces to a multiple of 8 so tensor data is aligned.
        var padded = (json.Length + 7) / 8 * 8;
        var headerBytes = new byte[padded];
        json.CopyTo(headerBytes, 0);
        headerBytes.AsSpan(json.Length).Fill((byte)' ');

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None);
        Span<byte> lengthBytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)padded);
        stream.Write(lengthBytes);
        stream.Write(headerBytes);
        var dataStart = stream.Position;
        offset = 0;
        foreach (var tensor in tensors)
        {
            var length = tensor.Shape.Aggregate(1L, (a, b) => a * b) * tensor.DType.SizeInBytes();
            var data = tensor.Data;
            if (tensor.Produce is not null)
            {
                data = tensor.Produce();
                if (data.LongLength != length)
                {
                    throw new InvalidOperationException($"Tensor '{tensor.Name}' is {tensor.DType} {string.Join("x", tensor.Shape)} ({length} bytes) but {data.LongLength} bytes were produced.");
                }

                if (!data.AsSpan().ContainsAnyExcept((byte)0))
                {
                    data = null;
                }
            }

            if (data is not null)
            {
                stream.Position = dataStart + offset;
                stream.Write(data);
            }

            offset += length;
        }

        stream.SetLength(dataStart + offset);
    }
}
