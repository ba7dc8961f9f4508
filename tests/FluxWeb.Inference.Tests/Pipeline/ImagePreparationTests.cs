using FluxWeb.Inference.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Inference.Tests.Pipeline;

public sealed class ImagePreparationTests
{
    [Theory]
    [InlineData(63, 500, "each side must be at least 64 pixels")]
    [InlineData(64, 520, "at most 8 times the shorter")]
    public void Tiny_and_extremely_elongated_references_are_refused(int width, int height, string expected)
    {
        using var image = new Image<Rgb24>(width, height);

        var error = Assert.Throws<GenerationRequestException>(() => ImagePreparation.PrepareReference(image, 1024 * 1024, "Reference image 2"));

        Assert.StartsWith($"Reference image 2 is {width}×{height}", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_huge_reference_is_scaled_to_the_pixel_cap_keeping_its_aspect_then_cropped_to_16()
    {
        using var image = new Image<Rgb24>(4000, 3000);

        using var prepared = ImagePreparation.PrepareReference(image, 1024 * 1024, "Reference");

        Assert.True((long)prepared.Width * prepared.Height <= 1024 * 1024);
        Assert.Equal(0, prepared.Width % 16);
        Assert.Equal(0, prepared.Height % 16);
        Assert.Equal(4.0 / 3, (double)prepared.Width / prepared.Height, 1);
        // sqrt(1024² / 12 M) scales 4000×3000 to 1182×886, cropped centrally to 1168×880.
        Assert.Equal((1168, 880), (prepared.Width, prepared.Height));
    }

    [Fact]
    public void Small_references_are_never_upscaled_only_cropped()
    {
        using var image = new Image<Rgb24>(100, 70);
        image[50, 35] = new Rgb24(255, 0, 0);

        using var prepared = ImagePreparation.PrepareReference(image, 1024 * 1024, "Reference");

        Assert.Equal((96, 64), (prepared.Width, prepared.Height));
        // The crop is centred: (100 − 96)/2 = 2 and (70 − 64)/2 = 3 pixels come off the left and top.
        Assert.Equal(new Rgb24(255, 0, 0), prepared[48, 32]);
    }

    [Fact]
    public void Mask_binarises_then_averages_onto_the_token_grid()
    {
        using var mask = new Image<L8>(32, 16);
        for (var y = 0; y < 16; y++)
        {
            for (var x = 0; x < 16; x++)
            {
                mask[x, y] = new L8(200);
            }
        }

        var tokens = ImagePreparation.MaskToTokens(mask, 2, 1);

        Assert.Equal(1f, tokens[0], 2);
        Assert.Equal(0f, tokens[1], 2);
    }

    [Fact]
    public void Image_tensors_round_trip_through_minus_one_to_one()
    {
        using var image = new Image<Rgb24>(2, 1);
        image[0, 0] = new Rgb24(0, 128, 255);
        image[1, 0] = new Rgb24(17, 34, 51);

        var chw = ImageTensors.ToChw(image);
        using var back = ImageTensors.FromChw(chw, 2, 1);

        Assert.Equal(-1f, chw[0]);
        Assert.Equal(1f, chw[4]);
        Assert.Equal(image[0, 0], back[0, 0]);
        Assert.Equal(image[1, 0], back[1, 0]);
    }
}
