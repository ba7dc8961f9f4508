using FluxWeb.Domain.Presets;

namespace FluxWeb.Application.Tests.Presets;

/// <summary>How a preset's template makes the prompt: <c>{prompt}</c> is the person's, a template without it is a style appended.</summary>
public sealed class PresetPromptTests
{
    [Theory]
    [InlineData("A portrait of {prompt}, oil painting", "a fox", "A portrait of a fox, oil painting")]
    [InlineData("{prompt}, {prompt} again", "echo", "echo, echo again")]
    [InlineData("cinematic lighting, 35 mm film", "a fox", "a fox, cinematic lighting, 35 mm film")]
    [InlineData("cinematic lighting", "a fox,", "a fox, cinematic lighting")]
    [InlineData("cinematic lighting", "", "cinematic lighting")]
    [InlineData("{prompt}, oil painting", "", "oil painting")]
    [InlineData("", "a fox", "a fox")]
    [InlineData("  ", "  a fox ", "a fox")]
    public void The_template_makes_the_prompt(string template, string prompt, string expected) =>
        Assert.Equal(expected, Preset.ExpandPrompt(template, prompt));

    [Theory]
    [InlineData("A portrait of {prompt}, oil painting", "a fox")]
    [InlineData("cinematic lighting", "a fox")]
    public void Applying_the_same_template_twice_does_not_repeat_the_style(string template, string prompt)
    {
        var once = Preset.ExpandPrompt(template, prompt);

        Assert.Equal(once, Preset.ExpandPrompt(template, once));
    }
}
