using FluxWeb.Provenance.Filters;
using FluxWeb.Provenance.Tests.Support;
using Microsoft.Extensions.Options;

namespace FluxWeb.Provenance.Tests.Filters;

public sealed class PromptFilterTests
{
    private readonly PromptFilter filter = new(Options.Create(new ContentFilterOptions { BlockedTerms = ["nude", "ass", "blood bath", "  ", "NUDE"] }));

    [Theory]
    [InlineData("a NUDE portrait")]
    [InlineData("a n u d e portrait")]
    [InlineData("a n.u.d.e portrait")]
    [InlineData("a nu-de portrait")]
    [InlineData("a nüde portrait")]
    [InlineData("a n\u00FAd\u00E8 portrait")]
    [InlineData("a nud\u0435 portrait")]
    [InlineData("a \u0578\u057Dde portrait")]
    [InlineData("a \u043F\u03C5de portrait")]
    [InlineData("a nu\u200Bde portrait")]
    [InlineData("a nu\u00ADde portrait")]
    [InlineData("a nud3 portrait")]
    [InlineData("a \uFF4E\uFF55\uFF44\uFF45 portrait")]
    [InlineData("nude!")]
    [InlineData("an @$$ joke")]
    [InlineData("a BLOOD   bath")]
    [InlineData("a blood-bath")]
    public void Evasions_of_a_blocked_term_are_caught(string prompt)
    {
        var decision = filter.Check(prompt);

        Assert.True(decision.Blocked, prompt);
        Assert.Contains(decision.MatchedTerm, new[] { "nude", "ass", "blood bath" });
        Assert.Contains("blocked term", decision.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a class assignment about bass fishing")]
    [InlineData("nudelsuppe with herbs")]
    [InlineData("a bath, then blood orange juice")]
    [InlineData("1990s poster, 35mm film")]
    public void Innocent_words_that_contain_a_term_pass(string prompt)
    {
        Assert.False(filter.Check(prompt).Blocked, prompt);
    }

    [Fact]
    public void Admins_replace_the_list_and_duplicates_collapse()
    {
        Assert.Equal(["nude", "ass", "blood bath"], filter.BlockedTerms);

        filter.SetBlockedTerms(["castle"]);

        Assert.True(filter.Check("a c a s t l e at night").Blocked);
        Assert.False(filter.Check("a nude portrait").Blocked);
    }

    [Fact]
    public void An_onnx_text_classifier_with_the_documented_contract_blocks_what_it_flags()
    {
        using var folder = new TempDataFolder();
        var path = Path.Combine(folder.Path, "text.onnx");
        File.WriteAllBytes(path, TestClassifierModels.ExactPhraseIsUnsafe());
        using var classifier = new OnnxPromptClassifier(path);
        var classifying = new PromptFilter(Options.Create(new ContentFilterOptions()), classifier);

        var flagged = classifying.Check("forbidden request");
        var allowed = classifying.Check("a lighthouse at dusk");

        Assert.True(classifying.HasClassifier);
        Assert.True(flagged.Blocked);
        Assert.Null(flagged.MatchedTerm);
        Assert.Equal(1.0, flagged.ClassifierScore);
        Assert.False(allowed.Blocked);
        Assert.Equal(0.0, allowed.ClassifierScore);
    }

    [Fact]
    public void A_text_classifier_without_a_string_input_is_refused()
    {
        using var folder = new TempDataFolder();
        var path = Path.Combine(folder.Path, "image.onnx");
        File.WriteAllBytes(path, TestClassifierModels.RedIsNsfw());

        var error = Assert.Throws<InvalidDataException>(() => new OnnxPromptClassifier(path));

        Assert.Contains("string tensor", error.Message, StringComparison.Ordinal);
    }
}
