using System.Buffers.Binary;

namespace FluxWeb.Provenance.Decoding;

/// <summary>
/// Reads an upload's container structure before any decoder sees it: the format comes from the bytes (never the
/// file name), the file must end exactly where the format says it ends, and the EXIF orientation is read here so
/// that the decoders can run with metadata switched off (no ICC or EXIF parsing inside ImageSharp).
/// </summary>
internal static class ImageContainer
{
    private static ReadOnlySpan<byte> PngSignature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    private static ReadOnlySpan<byte> ExifHeader => "Exif\0\0"u8;

    public static ImageContainerFormat Sniff(ReadOnlySpan<byte> data)
    {
        if (data.StartsWith(PngSignature))
        {
            return ImageContainerFormat.Png;
        }

        if (data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        {
            return ImageContainerFormat.Jpeg;
        }

        if (data.Length >= 12 && data.StartsWith("RIFF"u8) && data[8..12].SequenceEqual("WEBP"u8))
        {
            return ImageContainerFormat.Webp;
        }

        throw new UnsafeImageException(UnsafeImageReason.UnsupportedFormat, RefusedFormatMessage(data));
    }

    /// <summary>Checks the structure and returns the EXIF orientation (1 to 8; 1 when absent or unreadable).</summary>
    public static int Validate(ImageContainerFormat format, ReadOnlySpan<byte> data) => format switch
    {
        ImageContainerFormat.Png => ValidatePng(data),
        ImageContainerFormat.Jpeg => ValidateJpeg(data),
        _ => ValidateWebp(data),
    };

    private static string RefusedFormatMessage(ReadOnlySpan<byte> data)
    {
        var name = data switch
        {
            _ when data.StartsWith("GIF8"u8) => "a GIF",
            _ when data.StartsWith("BM"u8) => "a BMP",
            _ when data.StartsWith("II*\0"u8) || data.StartsWith("MM\0*"u8) => "a TIFF",
            _ when data.Length >= 12 && data[4..8].SequenceEqual("ftyp"u8) => "a HEIC/AVIF",
            _ when data.StartsWith("%PDF"u8) => "a PDF",
            _ when data.StartsWith("PK\u0003\u0004"u8) => "a ZIP archive",
            _ when data.StartsWith((ReadOnlySpan<byte>)[0, 0, 1, 0]) => "an icon",
            _ when data.TrimStart(" \t\r\n"u8).StartsWith("<"u8) => "an SVG or other text",
            _ => null,
        };
        return name is null
            ? "This file is not an image FluxWeb recognises. Upload a PNG, JPEG or WebP image."
            : $"This file is {name} file, which FluxWeb does not accept. Convert it to PNG, JPEG or WebP and upload it again.";
    }

    private static UnsafeImageException Truncated(string format) => new(
        UnsafeImageReason.Truncated,
        $"The {format} file is incomplete (it ends before the image does). Upload the full file again; if it keeps failing, re-save it in an image editor.");

    private static UnsafeImageException Corrupt(string format, string detail) => new(
        UnsafeImageReason.Corrupt,
        $"The {format} file is damaged ({detail}). Re-save it in an image editor and upload it again.");

    private static UnsafeImageException TrailingData(string format, int extraBytes) => new(
        UnsafeImageReason.TrailingData,
        $"The {format} image is followed by {extraBytes:N0} bytes of other data (for example a hidden archive or a phone's motion clip). " +
        "Export the picture as a plain still image and upload that.");

    private static int ValidatePng(ReadOnlySpan<byte> data)
    {
        var position = PngSignature.Length;
        var orientation = 1;
        var first = true;
        while (true)
        {
            if (data.Length - position < 12)
            {
                throw Truncated("PNG");
            }

            var length = BinaryPrimitives.ReadUInt32BigEndian(data[position..]);
            var type = data.Slice(position + 4, 4);
            foreach (var c in type)
            {
                if (!char.IsAsciiLetter((char)c))
                {
                    throw Corrupt("PNG", "a chunk has an invalid name");
                }
            }

            if (first && !type.SequenceEqual("IHDR"u8))
            {
                throw Corrupt("PNG", "the header chunk is missing");
            }

            first = false;
            if (length > int.MaxValue || length > (uint)(data.Length - position - 12))
            {
                throw Truncated("PNG");
            }

            var body = data.Slice(position + 8, (int)length);
            if (type.SequenceEqual("eXIf"u8))
            {
                orientation = ReadTiffOrientation(body);
            }

            position += 12 + (int)length;
            if (type.SequenceEqual("IEND"u8))
            {
                if (position != data.Length)
                {
                    throw TrailingData("PNG", data.Length - position);
                }

                return orientation;
            }
        }
    }

    private static int ValidateJpeg(ReadOnlySpan<byte> data)
    {
        var position = 2;
        var orientation = 1;
        while (true)
        {
            if (position >= data.Length)
            {
                throw Truncated("JPEG");
            }

            if (data[position] != 0xFF)
            {
                throw Corrupt("JPEG", "a segment marker is missing");
            }

            while (position < data.Length && data[position] == 0xFF)
            {
                position++;
            }

            if (position >= data.Length)
            {
                throw Truncated("JPEG");
            }

            var marker = data[position++];
            if (marker == 0xD9)
            {
                var trailer = data[position..];
                if (trailer.IndexOfAnyExcept((byte)0x00, (byte)0xFF) >= 0)
                {
                    throw TrailingData("JPEG", trailer.Length);
                }

                return orientation;
            }

            if (marker is 0x01 or (>= 0xD0 and <= 0xD7))
            {
                continue;
            }

            if (data.Length - position < 2)
            {
                throw Truncated("JPEG");
            }

            var length = BinaryPrimitives.ReadUInt16BigEndian(data[position..]);
            if (length < 2)
            {
                throw Corrupt("JPEG", "a segment has an impossible length");
            }

            if (length > data.Length - position)
            {
                throw Truncated("JPEG");
            }

            var body = data.Slice(position + 2, length - 2);
            if (marker == 0xE1 && body.StartsWith(ExifHeader))
            {
                orientation = ReadTiffOrientation(body[ExifHeader.Length..]);
            }

            position += length;
            if (marker == 0xDA)
            {
                position = SkipEntropyCodedData(data, position);
            }
        }
    }

    /// <summary>Returns the position of the next marker's 0xFF; inside scan data 0xFF is followed by 0x00 or a restart marker.</summary>
    private static int SkipEntropyCodedData(ReadOnlySpan<byte> data, int position)
    {
        while (true)
        {
            var next = data[position..].IndexOf((byte)0xFF);
            if (next < 0)
            {
                throw Truncated("JPEG");
            }

            position += next;
            if (position + 1 >= data.Length)
            {
                throw Truncated("JPEG");
            }

            var following = data[position + 1];
            if (following == 0x00 || following == 0xFF || following is >= 0xD0 and <= 0xD7)
            {
                position += following == 0xFF ? 1 : 2;
                continue;
            }

            return position;
        }
    }

    private static int ValidateWebp(ReadOnlySpan<byte> data)
    {
        var declared = (long)BinaryPrimitives.ReadUInt32LittleEndian(data[4..]) + 8;
        if (declared > data.Length)
        {
            throw Truncated("WebP");
        }

        if (declared < data.Length)
        {
            throw TrailingData("WebP", (int)(data.Length - declared));
        }

        var position = 12;
        var hasImage = false;
        while (position < data.Length)
        {
            if (data.Length - position < 8)
            {
                throw Truncated("WebP");
            }

            var type = data.Slice(position, 4);
            var size = BinaryPrimitives.ReadUInt32LittleEndian(data[(position + 4)..]);
            if (size > (uint)(data.Length - position - 8))
            {
                throw Truncated("WebP");
            }

            if (type.SequenceEqual("ANIM"u8) || type.SequenceEqual("ANMF"u8))
            {
                throw new UnsafeImageException(
                    UnsafeImageReason.UnsupportedFormat,
                    "Animated WebP files are not accepted. Export a single frame as PNG, JPEG or WebP and upload that.");
            }

            hasImage |= type.SequenceEqual("VP8 "u8) || type.SequenceEqual("VP8L"u8);
            position += 8 + (int)size + (int)(size & 1);
        }

        return hasImage ? 1 : throw Corrupt("WebP", "it holds no image data");
    }

    /// <summary>Orientation tag 0x0112 of IFD0; any inconsistency means "not rotated" rather than an error.</summary>
    internal static int ReadTiffOrientation(ReadOnlySpan<byte> tiff)
    {
        if (tiff.Length < 8)
        {
            return 1;
        }

        bool littleEndian;
        if (tiff.StartsWith("II*\0"u8))
        {
            littleEndian = true;
        }
        else if (tiff.StartsWith("MM\0*"u8))
        {
            littleEndian = false;
        }
        else
        {
            return 1;
        }

        uint ReadUInt32(ReadOnlySpan<byte> s) => littleEndian ? BinaryPrimitives.ReadUInt32LittleEndian(s) : BinaryPrimitives.ReadUInt32BigEndian(s);
        ushort ReadUInt16(ReadOnlySpan<byte> s) => littleEndian ? BinaryPrimitives.ReadUInt16LittleEndian(s) : BinaryPrimitives.ReadUInt16BigEndian(s);

        var ifd = ReadUInt32(tiff[4..]);
        if (ifd > (uint)(tiff.Length - 2))
        {
            return 1;
        }

        var count = ReadUInt16(tiff[(int)ifd..]);
        for (var i = 0; i < count; i++)
        {
            var entry = (int)ifd + 2 + (i * 12);
            if (entry + 12 > tiff.Length)
            {
                return 1;
            }

            if (ReadUInt16(tiff[entry..]) == 0x0112 && ReadUInt16(tiff[(entry + 2)..]) == 3)
            {
                var value = ReadUInt16(tiff[(entry + 8)..]);
                return value is >= 1 and <= 8 ? value : 1;
            }
        }

        return 1;
    }
}
