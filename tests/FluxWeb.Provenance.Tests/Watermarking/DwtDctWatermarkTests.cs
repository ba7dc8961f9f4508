using FluxWeb.Provenance.Tests.Support;
using FluxWeb.Provenance.Watermarking;
using Microsoft.Extensions.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Provenance.Tests.Watermarking;

public sealed class DwtDctWatermarkTests
{
    private static readonly InvisibleWatermarker Watermarker = new(Options.Create(new WatermarkOptions()), new InstallationIdentity("test-installation"));

    public static TheoryData<int, int> Sizes() => new() { { 256, 256 }, { 512, 384 }, { 1001, 703 } };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Round_trip_recovers_every_bit_and_the_serial(int width, int height)
    {
        using var image = TestImages.Photo(width, height, seed: width);

        Assert.True(Watermarker.TryEmbed(image, 31_337));

        var detection = Watermarker.Detect(image);
        Assert.True(detection.Present);
        Assert.True(detection.FromThisInstallation);
        Assert.Equal(31_337, detection.Serial);
        Assert.False(detection.Inverted);
        Assert.True(detection.Confidence > 0.9, $"confidence {detection.Confidence}");
    }

    [Theory]
    [InlineData("png", 100, JpegColorType.YCbCrRatio420)]
    [InlineData("jpeg", 95, JpegColorType.YCbCrRatio420)]
    [InlineData("jpeg", 90, JpegColorType.YCbCrRatio444)]
    public void The_mark_survives_the_encodings_outputs_are_stored_in(string format, int quality, JpegColorType subsampling)
    {
        using var image = TestImages.Photo(768, 512, seed: 5);
        Watermarker.TryEmbed(image, 777);
        var encoded = format == "png" ? TestImages.Png(image) : TestImages.Jpeg(image, quality, subsampling);

        using var stored = Image.Load<Rgba32>(encoded);
        var detection = Watermarker.Detect(stored);

        Assert.True(detection.Present, $"{format} q{quality} {subsampling}: bits {detection.Bits}, confidence {detection.Confidence:0.00}");
        Assert.Equal(777, detection.Serial);
    }

    [Fact]
    public void An_unmarked_image_is_reported_unmarked()
    {
        using var photo = TestImages.Photo(640, 480, seed: 9);
        using var flat = TestImages.Flat(512, 512, new Rgba32(200, 40, 90));

        Assert.False(Watermarker.Detect(photo).Present);
        Assert.False(Watermarker.Detect(flat).Present);
    }

    [Fact]
    public void Another_installations_mark_is_found_but_not_claimed()
    {
        var other = new InvisibleWatermarker(Options.Create(new WatermarkOptions()), new InstallationIdentity("someone-else"));
        using var image = TestImages.Photo(512, 512, seed: 11);
        other.TryEmbed(image, 12);

        var detection = Watermarker.Detect(image);

        Assert.True(detection.Present);
        Assert.False(detection.FromThisInstallation);
        Assert.Null(detection.Serial);
        Assert.Equal(other.InstallationTag, detection.Payload!.Value.InstallationTag);
    }

    [Fact]
    public void The_upload_check_finds_this_installations_serial_and_nothing_in_other_pictures()
    {
        var other = new InvisibleWatermarker(Options.Create(new WatermarkOptions()), new InstallationIdentity("someone-else"));
        using var ours = TestImages.Photo(512, 512, seed: 13);
        using var theirs = TestImages.Photo(512, 512, seed: 14);
        using var unmarked = TestImages.Photo(512, 512, seed: 15);
        using var flux = TestImages.Photo(512, 512, seed: 16);
        Watermarker.TryEmbed(ours, 31337);
        other.TryEmbed(theirs, 31337);
        new DwtDctWatermark().Embed(flux, WatermarkBits.Parse(KnownWatermarks.FluxReference.Bits));

        Assert.Equal(31337, Watermarker.FindOwnSerial(ours));
        Assert.Null(Watermarker.FindOwnSerial(theirs));
        Assert.Null(Watermarker.FindOwnSerial(unmarked));
        Assert.Null(Watermarker.FindOwnSerial(flux));
        Assert.Equal(Watermarker.Detect(ours).Serial, Watermarker.FindOwnSerial(ours));
    }

    [Fact]
    public void A_flux_reference_mark_is_named()
    {
        using var image = TestImages.Photo(512, 512, seed: 12);
        new DwtDctWatermark().Embed(image, WatermarkBits.Parse(KnownWatermarks.FluxReference.Bits));

        var detection = Watermarker.Detect(image);

        Assert.True(detection.Present);
        Assert.Equal(KnownWatermarks.FluxReference, detection.KnownMark);
        Assert.Null(detection.Payload);
    }

    [Fact]
    public void Images_below_imwatermarks_minimum_are_left_alone()
    {
        using var small = TestImages.Photo(255, 256);
        var before = small.Clone();

        Assert.False(Watermarker.TryEmbed(small, 1));
        Assert.Equal(before[100, 100], small[100, 100]);
        Assert.False(Watermarker.Detect(small).Present);
    }

    [Fact]
    public void Disabled_marking_changes_nothing()
    {
        var disabled = new InvisibleWatermarker(Options.Create(new WatermarkOptions { Enabled = false }), new InstallationIdentity("x"));
        using var image = TestImages.Photo(300, 300);

        Assert.False(disabled.TryEmbed(image, 1));
        Assert.False(Watermarker.Detect(image).Present);
    }

    [Fact]
    public void Carrier_preserving_output_is_stable_and_the_public_decoder_reads_it()
    {
        var (embedded, decodedByImwatermark) = ImwatermarkVectorTests.Vector.Bits("fluxweb_b.txt");
        using var image = ImwatermarkVectorTests.Vector.Load("input_b.png");
        using var expected = ImwatermarkVectorTests.Vector.Load("fluxweb_b.png");
        var payload = WatermarkPayload.Create(WatermarkPayload.TagFor("reference-vector-installation"), 4242);

        new DwtDctWatermark(DwtDctEmbedMode.CarrierPreserving).Embed(image, payload.ToBits());

        Assert.Equal(WatermarkBits.ToString(payload.ToBits()), embedded);
        Assert.Equal(embedded, decodedByImwatermark);
        Assert.Equal(0, ImwatermarkVectorTests.Vector.DifferingPixels(expected, image));
    }

    [Fact]
    public void The_installation_id_is_created_once_and_reused()
    {
        var data = Directory.CreateTempSubdirectory("fluxweb-provenance-");
        try
        {
            var storage = Options.Create(new ProvenanceStorageOptions { DataDirectory = data.FullName });
            var logger = Microsoft.Extensions.Logging.Abstractions.NullLogger<InstallationIdentity>.Instance;
            var first = InstallationIdentity.Resolve(Options.Create(new WatermarkOptions()), storage, logger);
            var second = InstallationIdentity.Resolve(Options.Create(new WatermarkOptions()), storage, logger);
            var configured = InstallationIdentity.Resolve(Options.Create(new WatermarkOptions { InstallationId = "fixed" }), storage, logger);

            Assert.Equal(first.Id, second.Id);
            Assert.True(Guid.TryParse(first.Id, out _));
            Assert.Equal("fixed", configured.Id);
            Assert.True(File.Exists(Path.Combine(data.FullName, "keys", "installation-id")));
        }
        finally
        {
            data.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Processes_sharing_a_data_folder_that_start_for_the_first_time_at_once_get_one_installation_id()
    {
        using var data = new Support.TempDataFolder();
        var storage = Options.Create(new ProvenanceStorageOptions { DataDirectory = data.Path });
        var logger = Microsoft.Extensions.Logging.Abstractions.NullLogger<InstallationIdentity>.Instance;
        const int processes = 8;
        using var start = new Barrier(processes);

        // A thread each (not pool threads, which the barrier would hold until the pool grew).
        var ids = await Task.WhenAll(Enumerable.Range(0, processes).Select(_ => Task.Factory.StartNew(
            () =>
            {
                start.SignalAndWait();
                return InstallationIdentity.Resolve(Options.Create(new WatermarkOptions()), storage, logger).Id;
            },
            TaskCreationOptions.LongRunning)));

        var id = Assert.Single(ids.Distinct());
        var keys = Path.Combine(data.Path, "keys");
        Assert.Equal(id, File.ReadAllText(Path.Combine(keys, "installation-id")).Trim());
        Assert.Equal(["installation-id"], Directory.EnumerateFileSystemEntries(keys).Select(Path.GetFileName));
    }
}
