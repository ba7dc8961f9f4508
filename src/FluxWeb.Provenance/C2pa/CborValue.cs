using System.Formats.Cbor;

namespace FluxWeb.Provenance.C2pa;

/// <summary>
/// Plain .NET values ⇄ CBOR: maps are <see cref="IReadOnlyDictionary{TKey,TValue}"/> with string keys, arrays are
/// lists, byte strings are byte[]. Writing uses canonical mode (sorted keys, shortest forms), as C2PA recommends.
/// </summary>
internal static class CborValue
{
    public static byte[] Encode(object? value)
    {
        var writer = new CborWriter(CborConformanceMode.Canonical);
        Write(writer, value);
        return writer.Encode();
    }

    public static object? Decode(ReadOnlyMemory<byte> data)
    {
        var reader = new CborReader(data, CborConformanceMode.Lax);
        var value = Read(reader, depth: 0);
        return reader.BytesRemaining == 0 ? value : throw new FormatException("Trailing bytes after a CBOR value.");
    }

    private static void Write(CborWriter writer, object? value)
    {
        switch (value)
        {
            case null: writer.WriteNull(); break;
            case string text: writer.WriteTextString(text); break;
            case byte[] bytes: writer.WriteByteString(bytes); break;
            case bool flag: writer.WriteBoolean(flag); break;
            case int number: writer.WriteInt64(number); break;
            case long number: writer.WriteInt64(number); break;
            case IReadOnlyDictionary<string, object?> map:
                writer.WriteStartMap(map.Count);
                foreach (var (key, item) in map)
                {
                    writer.WriteTextString(key);
                    Write(writer, item);
                }

                writer.WriteEndMap();
                break;
            case System.Collections.IEnumerable items:
                var list = items.Cast<object?>().ToList();
                writer.WriteStartArray(list.Count);
                foreach (var item in list)
                {
                    Write(writer, item);
                }

                writer.WriteEndArray();
                break;
            default: throw new ArgumentException($"Cannot encode {value.GetType().Name} as CBOR.", nameof(value));
        }
    }

    private static object? Read(CborReader reader, int depth)
    {
        if (depth > 32)
        {
            throw new FormatException("CBOR nested too deeply.");
        }

        switch (reader.PeekState())
        {
            case CborReaderState.Tag:
                reader.ReadTag();
                return Read(reader, depth + 1);
            case CborReaderState.StartMap:
                var count = reader.ReadStartMap();
                var map = new Dictionary<string, object?>();
                for (var i = 0; count is null ? reader.PeekState() != CborReaderState.EndMap : i < count; i++)
                {
                    var key = reader.PeekState() == CborReaderState.TextString ? reader.ReadTextString() : Convert.ToString(Read(reader, depth + 1), System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;
                    map[key] = Read(reader, depth + 1);
                }

                reader.ReadEndMap();
                return map;
            case CborReaderState.StartArray:
                var length = reader.ReadStartArray();
                var list = new List<object?>();
                for (var i = 0; length is null ? reader.PeekState() != CborReaderState.EndArray : i < length; i++)
                {
                    list.Add(Read(reader, depth + 1));
                }

                reader.ReadEndArray();
                return list;
            case CborReaderState.TextString: return reader.ReadTextString();
            case CborReaderState.ByteString: return reader.ReadByteString();
            case CborReaderState.UnsignedInteger or CborReaderState.NegativeInteger: return reader.ReadInt64();
            case CborReaderState.Boolean: return reader.ReadBoolean();
            case CborReaderState.Null: reader.ReadNull(); return null;
            case CborReaderState.HalfPrecisionFloat or CborReaderState.SinglePrecisionFloat or CborReaderState.DoublePrecisionFloat: return reader.ReadDouble();
            default: reader.SkipValue(); return null;
        }
    }
}
