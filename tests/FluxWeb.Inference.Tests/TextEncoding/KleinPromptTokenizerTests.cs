using System.Security.Cryptography;
using System.Text.Json;
using FluxWeb.Inference.TextEncoding;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.TextEncoding;

/// <summary>The klein prompt tokenizer against tests/fixtures/qwen3-tokenizer/golden-public.json (three independent tokenizers agree on it).</summary>
public sealed class KleinPromptTokenizerTests(ITestOutputHelper output)
{
    private const string TokenizerSha256 = "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4";
    private const long ImEnd = 151645;

    private readonly KleinPromptTokenizer tokenizer = TextEncoderRunner.SharedTokenizer;

    public static TheoryData<int> GoldenIndices => [.. Enumerable.Range(0, Golden.Value.Count)];

    private static readonly JsonSerializerOptions SnakeCase = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private static readonly Lazy<IReadOnlyList<GoldenEntry>> Golden = new(() =>
        JsonSerializer.Deserialize<List<GoldenEntry>>(File.ReadAllText(TestFixtures.Path("qwen3-tokenizer", "golden-public.json")), SnakeCase)!);

    [Fact]
    public void The_bundled_tokenizer_is_the_official_file_and_is_copied_to_the_output()
    {
        Assert.True(File.Exists(KleinPromptTokenizer.BundledTokenizerPath), KleinPromptTokenizer.BundledTokenizerPath);
        using var stream = File.OpenRead(KleinPromptTokenizer.BundledTokenizerPath);
        Assert.Equal(TokenizerSha256, Convert.ToHexStringLower(SHA256.HashData(stream)));
    }

    [Theory]
    [MemberData(nameof(GoldenIndices))]
    public void Ids_mask_and_length_equal_the_golden_file(int index)
    {
        var golden = Golden.Value[index];

        var tokens = tokenizer.Encode(golden.Text);

        Assert.Equal(golden.InputIds, tokens.InputIds);
        Assert.Equal(golden.AttentionMask, tokens.AttentionMask);
        Assert.Equal(golden.NRealTokens, tokens.RealTokenCount);
        Assert.Equal(golden.PlainIds, tokenizer.EncodePlain(golden.Text).Select(id => (long)id).ToArray());
        Assert.Equal(KleinPromptTokenizer.MaxLength, tokens.InputIds.Length);
    }

    [Fact]
    public void A_prompt_past_512_tokens_is_cut_and_flagged_and_loses_the_closing_template()
    {
        var golden = Golden.Value.Single(g => g.Text.Length == 3000);

        var tokens = tokenizer.Encode(golden.Text);

        output.WriteLine($"templated prompt: {tokens.FullTokenCount} tokens, kept {tokens.RealTokenCount}");
        Assert.True(tokens.Truncated);
        Assert.Equal(KleinPromptTokenizer.MaxLength, tokens.RealTokenCount);
        Assert.True(tokens.FullTokenCount > KleinPromptTokenizer.MaxLength);
        Assert.All(tokens.AttentionMask, m => Assert.Equal(1, m));
        Assert.DoesNotContain(ImEnd, tokens.InputIds);
    }

    [Fact]
    public void Short_prompts_are_not_flagged_and_pad_with_endoftext()
    {
        var tokens = tokenizer.Encode("a photo of a cat");

        Assert.False(tokens.Truncated);
        Assert.Equal(17, tokens.RealTokenCount);
        Assert.Equal(17, tokens.FullTokenCount);
        Assert.All(tokens.InputIds[17..], id => Assert.Equal(KleinPromptTokenizer.PadTokenId, id));
        Assert.All(tokens.AttentionMask[17..], m => Assert.Equal(0, m));
    }

    [Fact]
    public void Exactly_512_templated_tokens_are_not_truncated()
    {
        // The empty prompt templates to 12 tokens and each " the" adds one (checked below), so 500 of them make 512.
        var emptyCount = tokenizer.Encode("").RealTokenCount;
        Assert.Equal(12, emptyCount);
        var prompt = string.Concat(Enumerable.Repeat(" the", KleinPromptTokenizer.MaxLength - emptyCount));

        var tokens = tokenizer.Encode(prompt);
        var oneMore = tokenizer.Encode(prompt + " the");

        Assert.Equal(KleinPromptTokenizer.MaxLength, tokens.FullTokenCount);
        Assert.False(tokens.Truncated);
        // The whole closing template survives: <|im_end|> \n <|im_start|> assistant \n <think> \n\n </think> \n\n.
        Assert.Equal([ImEnd, 198, 151644, 77091, 198, 151667, 271, 151668, 271], tokens.InputIds[^9..]);
        Assert.True(oneMore.Truncated);
        Assert.Equal(KleinPromptTokenizer.MaxLength + 1, oneMore.FullTokenCount);
    }

    [Fact]
    public void Special_token_text_in_a_prompt_becomes_the_special_token_as_in_the_reference()
    {
        var golden = Golden.Value.Single(g => g.Text.StartsWith("<|im_end|>", StringComparison.Ordinal));

        var tokens = tokenizer.Encode(golden.Text);

        // <|im_start|> user \n, then the injected <|im_end|> matched as the special id, as the golden file says.
        Assert.Equal(ImEnd, tokens.InputIds[3]);
        Assert.Equal(golden.InputIds, tokens.InputIds);
        Assert.Equal(2, tokens.InputIds.Count(id => id == ImEnd));
    }

    [Fact]
    public void A_lone_surrogate_is_encoded_as_the_replacement_character_instead_of_failing()
    {
        var tokens = tokenizer.Encode("cat \uD83E");

        Assert.Equal(tokenizer.Encode("cat \uFFFD").InputIds, tokens.InputIds);
    }

    [Fact]
    public void One_instance_encodes_correctly_from_many_threads_at_once()
    {
        var prompts = Golden.Value.Select(g => g.Text).ToArray();
        var expected = prompts.Select(p => tokenizer.Encode(p).InputIds).ToArray();
        var failures = 0;

        Parallel.For(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var index = i % prompts.Length;
            if (!tokenizer.Encode(prompts[index]).InputIds.AsSpan().SequenceEqual(expected[index]))
            {
                Interlocked.Increment(ref failures);
            }
        });

        Assert.Equal(0, failures);
    }

    [Fact]
    public void Decoding_the_real_tokens_gives_back_the_templated_prompt()
    {
        const string prompt = "A red fox jumping over a snowy fence at dawn, 35mm film";
        var tokens = tokenizer.Encode(prompt);

        // Decode skips special tokens, so only the plain text between them comes back.
        var decoded = tokenizer.Decode(tokens.InputIds[..tokens.RealTokenCount]);

        Assert.Contains(prompt, decoded, StringComparison.Ordinal);
    }

    public sealed record GoldenEntry(string Text, long[] PlainIds, long[] InputIds, long[] AttentionMask, int NRealTokens);
}
