using System.Buffers.Binary;
using FluxWeb.Provenance.Decoding;
using FluxWeb.Provenance.Imaging;

namespace FluxWeb.Provenance.C2pa;

/// <summary>Where a manifest store lives in a PNG (one <c>caBX</c> chunk after IHDR) or JPEG (APP11 after APP0).</summary>
internal static class ManifestContainer
{
    /// <summary>c2pa-rs uses 64 000-byte chunks; the segment length field must stay under 65 536.</summary>
    private const int JpegChunk = 64_000;
    private static readonly byte[] JpegBoxInstance = [0x02, 0x11];

    public sealed record Located(byte[] Store, int Start, int Length);

    public static ImageContainerFormat Format(byte[] asset)
    {
        var format = asset.Length >= 8 ? TrySniff(asset) : null;
        return format is ImageContainerFormat.Png or ImageContainerFormat.Jpeg
            ? format.Value
            : throw new NotSupportedException("C2PA manifests are embedded in PNG and JPEG files only.");
    }

    public static int InsertionPoint(ImageContainerFormat format, byte[] asset)
    {
        if (format == ImageContainerFormat.Png)
        {
            var ihdrLength = BinaryPrimitives.ReadInt32BigEndian(asset.AsSpan(8));
            return 8 + 12 + ihdrLength;
        }

        var insertion = 2;
        foreach (var (marker, start, length) in JpegSegments(asset))
        {
            if (marker == 0xE0)
            {
                insertion = start + length;
            }
        }

        return insertion;
    }

    public static byte[] Wrap(ImageContainerFormat format, byte[] store)
    {
        using var output = new MemoryStream();
        if (format == ImageContainerFormat.Png)
        {
            var chunk = new byte[12 + store.Length];
            BinaryPrimitives.WriteInt32BigEndian(chunk, store.Length);
            "caBX"u8.CopyTo(chunk.AsSpan(4));
            store.CopyTo(chunk, 8);
            BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + store.Length), PngCrc.Compute(chunk.AsSpan(4, 4 + store.Length)));
            return chunk;
        }

        var sequence = 1u;
        Span<byte> header = stackalloc byte[12];
        for (var offset = 0; offset < store.Length; offset += JpegChunk, sequence++)
        {
            var piece = store.AsSpan(offset, Math.Min(JpegChunk, store.Length - offset));
            var repeatedHeader = offset == 0 ? 0 : 8;
            var contentLength = 2 + 2 + 4 + repeatedHeader + piece.Length;
            header[0] = 0xFF;
            header[1] = 0xEB;
            BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)(contentLength + 2));
            "JP"u8.CopyTo(header[4..]);
            JpegBoxInstance.CopyTo(header[6..]);
            BinaryPrimitives.WriteUInt32BigEndian(header[8..], sequence);
            output.Write(header);
            if (repeatedHeader > 0)
            {
                output.Write(store.AsSpan(0, 8));
            }

            output.Write(piece);
        }

        return output.ToArray();
    }

    /// <summary>The embedded manifest store and the byte span it occupies, or null when there is none.</summary>
    public static Located? Locate(ImageContainerFormat format, byte[] asset) =>
        format == ImageContainerFormat.Png ? LocatePng(asset) : LocateJpeg(asset);

    private static ImageContainerFormat? TrySniff(byte[] asset)
    {
        try
        {
            return ImageContainer.Sniff(asset);
        }
        catch (UnsafeImageException)
        {
            return null;
        }
    }

    private static Located? LocatePng(byte[] asset)
    {
        var position = 8;
        while (position + 12 <= asset.Length)
        {
            var length = BinaryPrimitives.ReadUInt32BigEndian(asset.AsSpan(position));
            if (length > (uint)(asset.Length - position - 12))
            {
                throw new FormatException("PNG chunk runs past the end of the file.");
            }

            var type = asset.AsSpan(position + 4, 4);
            if (type.SequenceEqual("caBX"u8))
            {
                if (PngCrc.Compute(asset.AsSpan(position + 4, 4 + (int)length)) != BinaryPrimitives.ReadUInt32BigEndian(asset.AsSpan(position + 8 + (int)length)))
                {
                    throw new FormatException("The caBX chunk's CRC does not match its content.");
                }

                return new Located(asset.AsSpan(position + 8, (int)length).ToArray(), position, 12 + (int)length);
            }

            if (type.SequenceEqual("IEND"u8))
            {
                break;
            }

            position += 12 + (int)length;
        }

        return null;
    }

    private static Located? LocateJpeg(byte[] asset)
    {
        using var store = new MemoryStream();
        var start = -1;
        var end = -1;
        byte[]? instance = null;
        var sequence = 0u;
        foreach (var (marker, segmentStart, length) in JpegSegments(asset))
        {
            var content = asset.AsSpan(segmentStart + 4, length - 4);
            var isJumbf = marker == 0xEB && content.Length > 16 && content.StartsWith("JP"u8);
            if (isJumbf && instance is null && content.Length > 28 && content.Slice(24, 4).SequenceEqual("c2pa"u8))
            {
                sequence = BinaryPrimitives.ReadUInt32BigEndian(content[4..]);
                if (sequence != 1)
                {
                    throw new FormatException("The first C2PA APP11 segment does not carry sequence number 1.");
                }

                instance = content.Slice(2, 2).ToArray();
                start = segmentStart;
                end = segmentStart + length;
                store.Write(content[8..]);
            }
            else if (isJumbf && instance is not null && end == segmentStart && content.Slice(2, 2).SequenceEqual(instance))
            {
                if (BinaryPrimitives.ReadUInt32BigEndian(content[4..]) != ++sequence || !content.Slice(8, 8).SequenceEqual(store.GetBuffer().AsSpan(0, 8)))
                {
                    throw new FormatException("C2PA APP11 segments are out of order or do not repeat the box header.");
                }

                end = segmentStart + length;
                store.Write(content[16..]);
            }
        }

        return instance is null ? null : new Located(store.ToArray(), start, end - start);
    }

    /// <summary>Marker segments before the first scan: (marker, start of the FF byte, total length with marker).</summary>
    private static IEnumerable<(byte Marker, int Start, int Length)> JpegSegments(byte[] asset)
    {
        var position = 2;
        while (position + 4 <= asset.Length && asset[position] == 0xFF)
        {
            var marker = asset[position + 1];
            if (marker is 0xDA or 0xD9)
            {
                yield break;
            }

            var length = 2 + BinaryPrimitives.ReadUInt16BigEndian(asset.AsSpan(position + 2));
            if (length < 4 || position + length > asset.Length)
            {
                throw new FormatException("JPEG segment runs past the end of the file.");
            }

            yield return (marker, position, length);
            position += length;
        }
    }
}
