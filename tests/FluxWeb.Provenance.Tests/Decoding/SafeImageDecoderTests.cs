using FluxWeb.Provenance.Decoding;
using FluxWeb.Provenance.Tests.Support;
using Microsoft.Extensions.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Provenance.Tests.Decoding;

public sealed class SafeImageDecoderTests : IDisposable
{
    private readonly SafeImageDecoder decoder = new(Options.Create(new ImageDecodingOptions()));

    public static TheoryData<HostileImages.Case> Corpus()
    {
        var data = new TheoryData<HostileImages.Case>();
        foreach (var item in HostileImages.All())
        {
            data.Add(item);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public async Task Hostile_file_is_refused_with_its_reason_a_user_message_and_bounded_memory(HostileImages.Case hostile)
    {
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();

        var refusal = await Assert.ThrowsAsync<UnsafeImageException>(() => decoder.DecodeAsync(new MemoryStream(hostile.Bytes), hostile.FileName));

        var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        Assert.Equal(hostile.Reason, refusal.Reason);
        Assert.Matches("(PNG|JPEG|WebP|upload|Upload|image)", refusal.Message);
        Assert.InRange(refusal.SuggestedStatusCode, 400, 499);
        Assert.True(allocated < (32L * 1024 * 1024) + (4L * hostile.Bytes.Length), $"{hostile.Name}: {allocated:N0} bytes allocated");
    }

    [Fact]
    public async Task The_decoder_keeps_serving_after_the_whole_corpus()
    {
        foreach (var hostile in HostileImages.All())
        {
            await Assert.ThrowsAsync<UnsafeImageException>(() => decoder.DecodeAsync(new MemoryStream(hostile.Bytes), hostile.FileName));
        }

        using var photo = TestImages.Photo(64, 48);
        using var decoded = await decoder.DecodeAsync(new MemoryStream(TestImages.Png(photo)), "ok.png");

        Assert.Equal(64, decoded.Width);
        Assert.Equal(photo[10, 20], decoded[10, 20]);
    }

    [Theory]
    [InlineData("png")]
    [InlineData("jpeg")]
    [InlineData("webp")]
    public async Task Png_jpeg_and_webp_decode(string format)
    {
        using var photo = TestImages.Photo(80, 60);
        var bytes = format switch
        {
            "png" => TestImages.Png(photo),
            "jpeg" => TestImages.Jpeg(photo, 95),
            _ => HostileImages.Encode(photo, new WebpEncoder { FileFormat = WebpFileFormatType.Lossless }),
        };

        using var decoded = await decoder.DecodeAsync(new MemoryStream(bytes), $"picture.{format}");

        Assert.Equal((80, 60), (decoded.Width, decoded.Height));
        Assert.InRange(Math.Abs(decoded[40, 30].R - photo[40, 30].R), 0, 12);
    }

    [Theory]
    [InlineData("png")]
    [InlineData("jpeg")]
    [InlineData("webp")]
    public void Randomly_damaged_files_decode_or_are_refused_never_anything_else(string format)
    {
        using var photo = TestImages.Photo(64, 48);
        var valid = format switch
        {
            "png" => TestImages.Png(photo),
            "jpeg" => TestImages.Jpeg(photo),
            _ => HostileImages.Encode(photo, new WebpEncoder()),
        };
        var random = new Random(format.Length);
        var outcomes = new Dictionary<string, int>();

        for (var attempt = 0; attempt < 150; attempt++)
        {
            var damaged = valid.ToArray();
            for (var flips = random.Next(1, 6); flips > 0; flips--)
            {
                damaged[random.Next(12, damaged.Length)] = (byte)random.Next(256);
            }

            try
            {
                using var image = decoder.Decode(damaged);
                outcomes["decoded"] = outcomes.GetValueOrDefault("decoded") + 1;
            }
            catch (UnsafeImageException refusal)
            {
                outcomes[refusal.Reason.ToString()] = outcomes.GetValueOrDefault(refusal.Reason.ToString()) + 1;
            }
        }

        Assert.Equal(150, outcomes.Values.Sum());
        Assert.True(outcomes.Count >= 2, string.Join(", ", outcomes));
    }

    [Fact]
    public async Task A_png_named_jpg_is_accepted_because_the_content_decides()
    {
        using var photo = TestImages.Photo(32, 32);

        using var decoded = await decoder.DecodeAsync(new MemoryStream(TestImages.Png(photo)), "actually-a-png.jpg");

        Assert.Equal(photo[5, 5], decoded[5, 5]);
    }

    [Fact]
    public async Task Zero_padding_after_a_jpeg_is_tolerated()
    {
        using var photo = TestImages.Photo(32, 32);
        byte[] padded = [.. TestImages.Jpeg(photo), .. new byte[64]];

        using var decoded = await decoder.DecodeAsync(new MemoryStream(padded));

        Assert.Equal(32, decoded.Width);
    }

    [Fact]
    public async Task Exif_orientation_is_applied_then_all_metadata_is_dropped()
    {
        using var photo = TestImages.Photo(40, 20);
        photo[0, 0] = new Rgba32(255, 0, 0);
        photo.Metadata.ExifProfile = new ExifProfile();
        photo.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
        photo.Metadata.ExifProfile.SetValue(ExifTag.GPSLatitudeRef, "N");

        using var decoded = await decoder.DecodeAsync(new MemoryStream(TestImages.Png(photo)), "phone.png");

        Assert.Equal((20, 40), (decoded.Width, decoded.Height));
        Assert.True(decoded[19, 0].R > 200 && decoded[19, 0].G < 60, "orientation 6 puts the top-left pixel top-right");
        Assert.Null(decoded.Metadata.ExifProfile);
        Assert.Null(decoded.Metadata.IccProfile);
        Assert.Null(decoded.Metadata.XmpProfile);
    }

    [Fact]
    public async Task A_file_over_the_byte_limit_is_refused_before_it_is_read_whole()
    {
        using var limited = new SafeImageDecoder(Options.Create(new ImageDecodingOptions { MaxBytes = 10_000 }));
        var stream = new CountingStream(new byte[5_000_000]);

        var refusal = await Assert.ThrowsAsync<UnsafeImageException>(() => limited.DecodeAsync(stream, "big.png"));

        Assert.Equal(UnsafeImageReason.TooLarge, refusal.Reason);
        Assert.Equal(413, refusal.SuggestedStatusCode);
        Assert.InRange(stream.BytesRead, 10_000, 10_000 + 81_920);
    }

    [Fact]
    public async Task The_allocator_limit_stops_a_decode_that_fits_the_dimension_limits()
    {
        using var limited = new SafeImageDecoder(Options.Create(new ImageDecodingOptions { AllocationLimitMegabytes = 4 }));
        using var photo = TestImages.Photo(1600, 1200);

        var refusal = await Assert.ThrowsAsync<UnsafeImageException>(() => limited.DecodeAsync(new MemoryStream(TestImages.Png(photo)), "wide.png"));

        Assert.Equal(UnsafeImageReason.ResourceLimit, refusal.Reason);
        Assert.Contains("memory", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refusals_name_the_format_and_the_way_out()
    {
        using var photo = TestImages.Photo(16, 16);
        var gif = HostileImages.Encode(photo, new SixLabors.ImageSharp.Formats.Gif.GifEncoder());

        var refusal = await Assert.ThrowsAsync<UnsafeImageException>(() => decoder.DecodeAsync(new MemoryStream(gif), "cat.png"));

        Assert.Equal("This file is a GIF file, which FluxWeb does not accept. Convert it to PNG, JPEG or WebP and upload it again.", refusal.Message);
        Assert.Equal(415, refusal.SuggestedStatusCode);
    }

    public void Dispose() => decoder.Dispose();

    private sealed class CountingStream(byte[] data) : MemoryStream(data)
    {
        public long BytesRead { get; private set; }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            var read = await base.ReadAsync(buffer, cancellationToken);
            BytesRead += read;
            return read;
        }
    }
}
