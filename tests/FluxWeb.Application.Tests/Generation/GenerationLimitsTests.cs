using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Jobs;
using FluxWeb.Inference;

namespace FluxWeb.Application.Tests.Generation;

public sealed class GenerationLimitsTests
{
    private static readonly GenerationLimits Limits = new InferenceOptions { MinSide = 250, MaxSide = 2050, MaxPixels = 2048L * 1024 }.ToGenerationLimits();

    [Theory]
    [InlineData(256, 256, null)]
    [InlineData(2048, 1024, null)]
    [InlineData(240, 256, "Width must be between 256 and 2048 pixels; 240 was asked.")]
    [InlineData(256, 2064, "Height must be between 256 and 2048 pixels; 2064 was asked.")]
    [InlineData(257, 256, "Width must be a multiple of 16: 257 is not; use 256 or 272.")]
    [InlineData(2047, 256, "Width must be a multiple of 16: 2047 is not; use 2032 or 2048.")]
    [InlineData(2048, 2048, "2048×2048 is 4,194,304 pixels; at most 2,097,152 are allowed.")]
    public void One_rule_for_sizes_says_what_is_accepted(int width, int height, string? problem)
    {
        var check = Limits.CheckSize(width, height);

        Assert.Equal(problem, check.Problem);
        Assert.Equal(problem is null, check.Fits);
    }

    [Fact]
    public void The_limits_come_from_the_inference_options_with_sides_on_the_16_pixel_grid()
    {
        Assert.Equal((256, 2048, 2048L * 1024), (Limits.SmallestSide, Limits.LargestSide, Limits.MaxPixels));
        Assert.Equal("256–2048 px a side, multiples of 16, at most 2.1 megapixels", Limits.SizeHint);
        Assert.Null(Limits.BatchProblem(8));
        Assert.Equal("Ask for between 1 and 8 images at a time.", Limits.BatchProblem(9));
        Assert.NotNull(GenerationLimits.StrengthProblem(0f));
        Assert.NotNull(GenerationLimits.StrengthProblem(float.NaN));
        Assert.Null(GenerationLimits.StrengthProblem(1f));
        Assert.NotNull(GenerationLimits.PromptProblem(new string('a', GenerationLimits.MaxPromptCharacters + 1)));
    }

    [Fact]
    public void Settings_compare_by_value_including_their_references_and_say_their_mode()
    {
        var reference = Guid.NewGuid();
        var settings = new GenerationSettings { ModelId = "demo", Prompt = "p", ReferenceImageIds = [reference] };

        Assert.Equal(settings, settings with { ReferenceImageIds = [reference] });
        Assert.Equal(settings.GetHashCode(), (settings with { ReferenceImageIds = [reference] }).GetHashCode());
        Assert.NotEqual(settings, settings with { Feather = true });
        Assert.Equal(JobMode.Edit, settings.Mode);
        Assert.Equal(JobMode.MaskedEdit, (settings with { SourceImageId = Guid.NewGuid() }).Mode);
        Assert.Equal(ulong.MinValue, settings.ForBatchImage(ulong.MaxValue, 1).Seed);
    }
}
