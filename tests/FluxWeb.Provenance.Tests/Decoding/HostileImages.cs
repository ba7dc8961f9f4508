using System.Buffers.Binary;
using System.IO.Compression;
using FluxWeb.Provenance.Decoding;
using FluxWeb.Provenance.Tests.Support;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Provenance.Tests.Decoding;

/// <summary>The hostile and odd files every upload path must refuse with the right reason.</summary>
public static class HostileImages
{
    public sealed record Case(string Name, string FileName, byte[] Bytes, UnsafeImageReason Reason)
    {
        public override string ToString() => Name;
    }

    public static IEnumerable<Case> All()
    {
        using var photo = TestImages.Photo(96, 64);
        var png = TestImages.Png(photo);
        var jpeg = TestImages.Jpeg(photo);

        yield return new("zero bytes", "empty.png", [], UnsafeImageReason.Empty);
        yield return new("random bytes", "noise.png", RandomBytes(4096), UnsafeImageReason.UnsupportedFormat);
        yield return new("truncated PNG", "cut.png", png[..(png.Length / 2)], UnsafeImageReason.Truncated);
        yield return new("PNG without IEND", "no-end.png", png[..^12], UnsafeImageReason.Truncated);
        yield return new("truncated JPEG", "cut.jpg", jpeg[..(jpeg.Length / 2)], UnsafeImageReason.Truncated);
        yield return new("PNG claiming 100000x100000", "huge.png", WithPngDimensions(png, 100_000, 100_000), UnsafeImageReason.DimensionsTooLarge);
        yield return new("JPEG whose frame header claims 60000x60000", "huge.jpg", WithJpegDimensions(jpeg, 60_000, 60_000), UnsafeImageReason.DimensionsTooLarge);
        yield return new("PNG decompression bomb 16000x16000", "bomb.png", PngBomb(16_000, 16_000), UnsafeImageReason.DimensionsTooLarge);
        yield return new("PNG bomb inside the side limits but over the pixel limit", "bomb2.png", PngBomb(8000, 8000), UnsafeImageReason.DimensionsTooLarge);
        yield return new("GIF", "cat.gif", Encode(photo, new GifEncoder()), UnsafeImageReason.UnsupportedFormat);
        yield return new("TIFF", "scan.tiff", Encode(photo, new TiffEncoder()), UnsafeImageReason.UnsupportedFormat);
        yield return new("BMP", "paint.bmp", Encode(photo, new BmpEncoder()), UnsafeImageReason.UnsupportedFormat);
        yield return new("GIF renamed .png", "cat.png", Encode(photo, new GifEncoder()), UnsafeImageReason.UnsupportedFormat);
        yield return new("PNG+ZIP polyglot", "poly.png", [.. png, .. Zip()], UnsafeImageReason.TrailingData);
        yield return new("JPEG+ZIP polyglot", "poly.jpg", [.. jpeg, .. Zip()], UnsafeImageReason.TrailingData);
        yield return new("ZIP renamed .jpg", "archive.jpg", Zip(), UnsafeImageReason.UnsupportedFormat);
        yield return new("SVG text", "vector.png", "<svg xmlns='http://www.w3.org/2000/svg'/>"u8.ToArray(), UnsafeImageReason.UnsupportedFormat);
        yield return new("animated WebP", "anim.webp", AnimatedWebp(), UnsafeImageReason.UnsupportedFormat);
        yield return new("WebP with a short RIFF", "cut.webp", TruncatedWebp(), UnsafeImageReason.Truncated);
        yield return new("PNG with garbage compressed data", "garbage.png", WithGarbageIdat(png), UnsafeImageReason.Corrupt);
    }

    public static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        new Random(7).NextBytes(bytes);
        bytes[0] = 0x42;
        return bytes;
    }

    public static byte[] Encode(Image image, SixLabors.ImageSharp.Formats.IImageEncoder encoder)
    {
        using var stream = new MemoryStream();
        image.Save(stream, encoder);
        return stream.ToArray();
    }

    public static byte[] Zip()
    {
        using var stream = new MemoryStream();
        using (var archive = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            using var writer = new StreamWriter(archive.CreateEntry("payload.txt").Open());
            writer.Write("not an image");
        }

        return stream.ToArray();
    }

    public static byte[] WithPngDimensions(byte[] png, int width, int height)
    {
        var copy = png.ToArray();
        BinaryPrimitives.WriteInt32BigEndian(copy.AsSpan(16), width);
        BinaryPrimitives.WriteInt32BigEndian(copy.AsSpan(20), height);
        BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(29), Crc32(copy.AsSpan(12, 17)));
        return copy;
    }

    public static byte[] WithJpegDimensions(byte[] jpeg, int width, int height)
    {
        var copy = jpeg.ToArray();
        for (var i = 2; i < copy.Length - 9; i++)
        {
            if (copy[i] == 0xFF && copy[i + 1] is 0xC0 or 0xC2)
            {
                BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(i + 5), (ushort)height);
                BinaryPrimitives.WriteUInt16BigEndian(copy.AsSpan(i + 7), (ushort)width);
                return copy;
            }
        }

        throw new InvalidOperationException("No frame header in the generated JPEG.");
    }

    /// <summary>A 1-bit greyscale PNG of zeros: a few kilobytes that decode to width × height × 4 bytes of RGBA.</summary>
    public static byte[] PngBomb(int width, int height)
    {
        var rowBytes = 1 + ((width + 7) / 8);
        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            var row = new byte[rowBytes];
            for (var y = 0; y < height; y++)
            {
                zlib.Write(row);
            }
        }

        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 1;
        return BuildPng(("IHDR", header), ("IDAT", compressed.ToArray()), ("IEND", []));
    }

    public static byte[] WithGarbageIdat(byte[] png)
    {
        var header = png.AsSpan(16, 13).ToArray();
        var garbage = RandomBytes(2048);
        garbage[0] = 0x78;
        garbage[1] = 0x9C;
        return BuildPng(("IHDR", header), ("IDAT", garbage), ("IEND", []));
    }

    public static byte[] BuildPng(params (string Type, byte[] Data)[] chunks)
    {
        using var stream = new MemoryStream();
        stream.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        foreach (var (type, data) in chunks)
        {
            var chunk = new byte[12 + data.Length];
            BinaryPrimitives.WriteInt32BigEndian(chunk, data.Length);
            System.Text.Encoding.ASCII.GetBytes(type, chunk.AsSpan(4));
            data.CopyTo(chunk, 8);
            BinaryPrimitives.WriteUInt32BigEndian(chunk.AsSpan(8 + data.Length), Crc32(chunk.AsSpan(4, 4 + data.Length)));
            stream.Write(chunk);
        }

        return stream.ToArray();
    }

    public static uint Crc32(ReadOnlySpan<byte> data) => FluxWeb.Provenance.Imaging.PngCrc.Compute(data);

    private static byte[] AnimatedWebp()
    {
        var vp8x = new byte[10];
        vp8x[0] = 0x02;
        var anim = new byte[6];
        return Riff(("VP8X", vp8x), ("ANIM", anim));
    }

    private static byte[] TruncatedWebp()
    {
        var full = Riff(("VP8L", new byte[40]));
        return full[..^10];
    }

    private static byte[] Riff(params (string Type, byte[] Data)[] chunks)
    {
        using var body = new MemoryStream();
        body.Write("WEBP"u8);
        foreach (var (type, data) in chunks)
        {
            body.Write(System.Text.Encoding.ASCII.GetBytes(type));
            var size = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(size, data.Length);
            body.Write(size);
            body.Write(data);
        }

        var result = new byte[8 + body.Length];
        "RIFF"u8.CopyTo(result);
        BinaryPrimitives.WriteInt32LittleEndian(result.AsSpan(4), (int)body.Length);
        body.ToArray().CopyTo(result, 8);
        return result;
    }
}
