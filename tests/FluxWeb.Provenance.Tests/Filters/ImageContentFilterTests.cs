using FluxWeb.Provenance.Filters;
using FluxWeb.Provenance.Tests.Support;
using Microsoft.Extensions.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Provenance.Tests.Filters;

public sealed class ImageContentFilterTests : IDisposable
{
    private static readonly Rgba32 Red = new(230, 20, 20);
    private static readonly Rgba32 Blue = new(20, 20, 230);
    private readonly TempDataFolder folder = new();
    private readonly string modelPath;

    public ImageContentFilterTests()
    {
        modelPath = Path.Combine(folder.Path, "nsfw.onnx");
        File.WriteAllBytes(modelPath, TestClassifierModels.RedIsNsfw());
    }

    [Fact]
    public void Preprocessing_follows_the_contract_stretch_to_224_and_scale_to_minus_one_one()
    {
        using var image = TestImages.Flat(100, 40, Blue);
        TestImages.FillRectangle(image, new Rectangle(0, 0, 50, 40), Red);

        var tensor = OnnxImageSafetyClassifier.Preprocess(image);

        Assert.Equal([1, 3, 224, 224], tensor.Dimensions.ToArray());
        Assert.Equal(((230 / 255f) - 0.5f) / 0.5f, tensor[0, 0, 10, 5], 4);
        Assert.Equal(((20 / 255f) - 0.5f) / 0.5f, tensor[0, 2, 10, 5], 4);
        Assert.Equal(((230 / 255f) - 0.5f) / 0.5f, tensor[0, 2, 200, 220], 4);
        Assert.Equal(tensor[0, 0, 0, 100], tensor[0, 0, 223, 100]);
    }

    [Fact]
    public void A_flagged_output_is_blurred_and_flagged_for_review()
    {
        var filter = Filter(ContentAction.BlurAndFlag);
        var noise = new Random(8);
        using var output = TestImages.Flat(256, 256, Red);
        output.ProcessPixelRows(rows =>
        {
            for (var y = 0; y < rows.Height; y++)
            {
                foreach (ref var pixel in rows.GetRowSpan(y))
                {
                    pixel.G = (byte)noise.Next(0, 120);
                }
            }
        });

        var decision = filter.Screen(output, ImageRole.Output);

        Assert.Equal(ContentVerdict.BlurredForReview, decision.Verdict);
        Assert.True(decision.MustBlur && decision.NeedsReview);
        Assert.True(decision.NsfwProbability > 0.85);
        var before = Detail(output);
        ImageContentFilter.Blur(output);
        var after = Detail(output);
        Assert.True(after < before / 10, $"blurring must remove fine detail ({before} -> {after})");
    }

    [Theory]
    [InlineData(ContentAction.Block, ImageRole.Output, "not kept")]
    [InlineData(ContentAction.BlurAndFlag, ImageRole.Input, "cannot be used")]
    [InlineData(ContentAction.Block, ImageRole.Input, "cannot be used")]
    public void Flagged_inputs_are_always_refused_and_outputs_are_blocked_under_the_block_policy(ContentAction action, ImageRole role, string message)
    {
        using var image = TestImages.Flat(300, 200, Red);

        var decision = Filter(action).Screen(image, role);

        Assert.Equal(ContentVerdict.Blocked, decision.Verdict);
        Assert.Contains(message, decision.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0.85, 140, ContentVerdict.Allowed)]
    [InlineData(0.85, 170, ContentVerdict.BlurredForReview)]
    [InlineData(0.99, 170, ContentVerdict.Allowed)]
    public void The_threshold_is_configurable(double threshold, byte red, ContentVerdict expected)
    {
        using var image = TestImages.Flat(64, 64, new Rgba32(red, 0, 0));

        Assert.Equal(expected, Filter(ContentAction.BlurAndFlag, threshold).Screen(image, ImageRole.Output).Verdict);
    }

    [Fact]
    public void Safe_pictures_pass_with_their_probability()
    {
        using var image = TestImages.Flat(64, 64, Blue);

        var decision = Filter(ContentAction.Block).Screen(image, ImageRole.Output);

        Assert.Equal(ContentVerdict.Allowed, decision.Verdict);
        Assert.True(decision.NsfwProbability < 0.01);
    }

    [Fact]
    public void Without_a_classifier_filtering_is_visibly_off_and_nothing_passes_silently()
    {
        var missing = new ContentFilterOptions { ImageClassifierPath = Path.Combine(folder.Path, "absent.onnx") };
        var (classifier, status) = ImageClassifierLoader.Load(missing);
        var filter = new ImageContentFilter(Options.Create(missing), classifier, status);
        using var image = TestImages.Flat(64, 64, Red);

        var decision = filter.Screen(image, ImageRole.Output);

        Assert.Null(classifier);
        Assert.False(filter.Status.Enabled);
        Assert.StartsWith("Image filtering is off: no classifier installed", filter.Status.Description, StringComparison.Ordinal);
        Assert.Equal(ContentVerdict.Unchecked, decision.Verdict);
        Assert.Equal(filter.Status.Description, decision.Message);
        Assert.False(ImageClassifierLoader.Load(new ContentFilterOptions { ImageClassifierPath = null }).Status.Enabled);
    }

    [Fact]
    public void A_model_with_the_wrong_input_shape_leaves_filtering_off_and_says_why()
    {
        var path = Path.Combine(folder.Path, "wrong.onnx");
        File.WriteAllBytes(path, TestClassifierModels.WrongInputSize());

        var (classifier, status) = ImageClassifierLoader.Load(new ContentFilterOptions { ImageClassifierPath = path });

        Assert.Null(classifier);
        Assert.False(status.Enabled);
        Assert.Contains("[N,3,224,224]", status.Description, StringComparison.Ordinal);
    }

    public void Dispose() => folder.Dispose();

    private ImageContentFilter Filter(ContentAction action, double threshold = 0.85)
    {
        var options = new ContentFilterOptions { ImageClassifierPath = modelPath, OutputAction = action, ImageThreshold = threshold };
        var (classifier, status) = ImageClassifierLoader.Load(options);
        Assert.True(status.Enabled, status.Description);
        return new ImageContentFilter(Options.Create(options), classifier, status);
    }

    /// <summary>Fine detail: summed magnitude of the horizontal second difference.</summary>
    private static double Detail(Image<Rgba32> image)
    {
        double sum = 0;
        for (var y = 0; y < image.Height; y++)
        {
            for (var x = 1; x < image.Width - 1; x++)
            {
                sum += Math.Abs((2 * image[x, y].G) - image[x - 1, y].G - image[x + 1, y].G);
            }
        }

        return sum;
    }
}
