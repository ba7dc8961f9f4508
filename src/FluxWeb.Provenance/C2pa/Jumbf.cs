using System.Buffers.Binary;
using System.Text;

namespace FluxWeb.Provenance.C2pa;

/// <summary>A JUMBF box to write (ISO 19566-5): a superbox with its description, or a content box.</summary>
internal abstract record JumbfBox
{
    public byte[] ToBytes()
    {
        using var stream = new MemoryStream();
        WriteTo(stream);
        return stream.ToArray();
    }

    public abstract void WriteTo(Stream stream);

    protected static void WriteHeader(Stream stream, int totalLength, string type)
    {
        Span<byte> header = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(header, totalLength);
        Encoding.ASCII.GetBytes(type, header[4..]);
        stream.Write(header);
    }
}

/// <summary><c>jumb</c> holding a <c>jumd</c> (type UUID, toggles "requestable + label", label) and its children.</summary>
internal sealed record JumbfSuperBox(string ContentType, string Label, IReadOnlyList<JumbfBox> Children) : JumbfBox
{
    /// <summary>The box without its own 8-byte header: what a C2PA hashed URI hashes.</summary>
    public byte[] ContentBytes()
    {
        using var stream = new MemoryStream();
        WriteContent(stream);
        return stream.ToArray();
    }

    public override void WriteTo(Stream stream)
    {
        var content = ContentBytes();
        WriteHeader(stream, content.Length + 8, "jumb");
        stream.Write(content);
    }

    private void WriteContent(Stream stream)
    {
        var label = Encoding.UTF8.GetBytes(Label);
        WriteHeader(stream, 8 + 16 + 1 + label.Length + 1, "jumd");
        stream.Write(JumbfTypes.Uuid(ContentType));
        stream.WriteByte(0x03);
        stream.Write(label);
        stream.WriteByte(0);
        foreach (var child in Children)
        {
            child.WriteTo(stream);
        }
    }
}

internal sealed record JumbfContentBox(string Type, byte[] Payload) : JumbfBox
{
    public override void WriteTo(Stream stream)
    {
        WriteHeader(stream, Payload.Length + 8, Type);
        stream.Write(Payload);
    }
}

internal static class JumbfTypes
{
    public const string ManifestStore = "c2pa";
    public const string Manifest = "c2ma";
    public const string AssertionStore = "c2as";
    public const string Claim = "c2cl";
    public const string Signature = "c2cs";
    public const string Cbor = "cbor";

    /// <summary>Embedded file (thumbnails): a full UUID rather than a 4-character code.</summary>
    public const string EmbeddedFile = "40CB0C32BB8A489DA70B2AD6F47F4369";

    private static ReadOnlySpan<byte> Suffix => [0x00, 0x11, 0x00, 0x10, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];

    public static byte[] Uuid(string fourCc)
    {
        if (fourCc.Length == 32)
        {
            return Convert.FromHexString(fourCc);
        }

        var uuid = new byte[16];
        Encoding.ASCII.GetBytes(fourCc, uuid);
        Suffix.CopyTo(uuid.AsSpan(4));
        return uuid;
    }

    public static string? FourCc(ReadOnlySpan<byte> uuid) =>
        uuid.Length == 16 && uuid[4..].SequenceEqual(Suffix) ? Encoding.ASCII.GetString(uuid[..4]) : null;
}

/// <summary>A parsed box; offsets are relative to the buffer the manifest store was read from.</summary>
internal sealed class JumbfNode
{
    public required string Type { get; init; }

    public required int Start { get; init; }

    public required int Length { get; init; }

    public required int HeaderLength { get; init; }

    /// <summary>For superboxes: the description's content type and label.</summary>
    public string? ContentType { get; init; }

    public string? Label { get; init; }

    public List<JumbfNode> Children { get; } = [];

    public int PayloadStart => Start + HeaderLength;

    public int PayloadLength => Length - HeaderLength;

    public JumbfNode? Child(string label) => Children.FirstOrDefault(child => child.Label == label);

    /// <summary>The first content box of a superbox (e.g. the <c>cbor</c> box of an assertion).</summary>
    public JumbfNode? Content => Children.FirstOrDefault(child => child.Type != "jumb");

    public static JumbfNode Parse(ReadOnlySpan<byte> data) => Parse(data, 0, data.Length, depth: 0);

    private static JumbfNode Parse(ReadOnlySpan<byte> data, int start, int limit, int depth)
    {
        if (depth > 16 || limit - start < 8)
        {
            throw new FormatException("JUMBF box is truncated or nested too deeply.");
        }

        long length = BinaryPrimitives.ReadUInt32BigEndian(data[start..]);
        var type = Encoding.ASCII.GetString(data.Slice(start + 4, 4));
        var headerLength = 8;
        if (length == 1)
        {
            length = (long)BinaryPrimitives.ReadUInt64BigEndian(data[(start + 8)..]);
            headerLength = 16;
        }
        else if (length == 0)
        {
            length = limit - start;
        }

        if (length < headerLength || length > limit - start)
        {
            throw new FormatException($"JUMBF box '{type}' claims {length} bytes.");
        }

        if (type != "jumb")
        {
            return new JumbfNode { Type = type, Start = start, Length = (int)length, HeaderLength = headerLength };
        }

        var descriptionStart = start + headerLength;
        var end = start + (int)length;
        var description = Parse(data, descriptionStart, end, depth + 1);
        if (description.Type != "jumd" || description.PayloadLength < 17)
        {
            throw new FormatException("JUMBF superbox without a description box.");
        }

        var body = data.Slice(description.PayloadStart, description.PayloadLength);
        var toggles = body[16];
        if ((toggles & 0x03) != 0x03 || (toggles & 0xE0) != 0)
        {
            throw new FormatException("C2PA superboxes must be requestable and labelled (JUMBF toggles).");
        }

        var terminator = body[17..].IndexOf((byte)0);
        if (terminator < 0)
        {
            throw new FormatException("JUMBF label is not terminated.");
        }

        var label = Encoding.UTF8.GetString(body.Slice(17, terminator));
        var optional = 17 + terminator + 1;
        optional += (toggles & 0x04) != 0 ? 4 : 0;
        optional += (toggles & 0x08) != 0 ? 32 : 0;
        var remaining = body.Length - optional;
        if (remaining < 0 || ((toggles & 0x10) != 0) != (remaining > 0))
        {
            throw new FormatException($"JUMBF description of '{label}' does not match its toggles.");
        }

        var node = new JumbfNode
        {
            Type = type,
            Start = start,
            Length = (int)length,
            HeaderLength = headerLength,
            ContentType = JumbfTypes.FourCc(body[..16]) ?? Convert.ToHexString(body[..16]),
            Label = label,
        };
        for (var position = description.Start + description.Length; position < end;)
        {
            var child = Parse(data, position, end, depth + 1);
            node.Children.Add(child);
            position += child.Length;
        }

        return node;
    }
}
