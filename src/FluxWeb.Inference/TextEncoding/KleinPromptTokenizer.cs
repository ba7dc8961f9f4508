using System.Text;
using Tokenizers.DotNet;

namespace FluxWeb.Inference.TextEncoding;

/// <summary>
/// A prompt ready for the text encoder: exactly <see cref="KleinPromptTokenizer.MaxLength"/> ids and
/// mask entries (1 real, 0 pad). <see cref="Truncated"/> says the templated prompt had
/// <see cref="FullTokenCount"/> tokens and lost everything past the limit, closing template tokens
/// included, as the reference pipeline does; the UI should warn.
/// </summary>
public sealed record KleinPromptTokens(long[] InputIds, long[] AttentionMask, int RealTokenCount, int FullTokenCount)
{
    public bool Truncated => FullTokenCount > RealTokenCount;
}

/// <summary>
/// The klein prompt tokenizer: Qwen3's <c>tokenizer.json</c> (Hugging Face tokenizers 0.22 through
/// Tokenizers.DotNet), the chat template without a system prompt and with thinking disabled, then
/// truncation and right padding to 512 with <c>&lt;|endoftext|&gt;</c>.
/// </summary>
/// <remarks>
/// One instance can be shared by every thread. Tokenizers.DotNet 1.4.1 keeps each native tokenizer
/// in a map behind a read–write lock and encodes under the read lock with the Rust
/// <c>Tokenizer::encode_fast(&amp;self)</c>, which is <c>Sync</c>; error text is thread-local. So
/// concurrent <see cref="Encode"/> calls need no lock of ours (a test hammers one instance from many
/// threads). Only <see cref="Dispose"/> must not race an encode, as with any disposable.
/// </remarks>
public sealed class KleinPromptTokenizer : IDisposable
{
    public const int MaxLength = 512;
    public const long PadTokenId = 151643;

    /// <summary>Where the build puts the Qwen3 tokenizer.json shipped with this assembly.</summary>
    public static string BundledTokenizerPath { get; } = Path.Combine(AppContext.BaseDirectory, "TextEncoding", "qwen3", "tokenizer.json");

    private readonly Tokenizer tokenizer;

    public KleinPromptTokenizer(string tokenizerJsonPath)
    {
        if (!File.Exists(tokenizerJsonPath))
        {
            throw new FileNotFoundException($"Tokenizer file not found: {tokenizerJsonPath}", tokenizerJsonPath);
        }

        tokenizer = new Tokenizer(vocabPath: tokenizerJsonPath);
    }

    public static KleinPromptTokenizer LoadBundled() => new(BundledTokenizerPath);

    /// <summary>
    /// What transformers' <c>apply_chat_template([{"role": "user", "content": prompt}],
    /// add_generation_prompt=True, enable_thinking=False)</c> renders for Qwen3.
    /// </summary>
    public static string ApplyTemplate(string prompt) =>
        $"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";

    /// <summary>Token ids of <paramref name="text"/> as it stands (no template, no truncation).</summary>
    public uint[] EncodePlain(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return tokenizer.Encode(ReplaceLoneSurrogates(text));
    }

    public KleinPromptTokens Encode(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var ids = EncodePlain(ApplyTemplate(prompt));
        var real = Math.Min(ids.Length, MaxLength);
        var inputIds = new long[MaxLength];
        var mask = new long[MaxLength];
        for (var i = 0; i < MaxLength; i++)
        {
            inputIds[i] = i < real ? ids[i] : PadTokenId;
            mask[i] = i < real ? 1 : 0;
        }

        return new KleinPromptTokens(inputIds, mask, real, ids.Length);
    }

    public string Decode(IEnumerable<long> ids) => tokenizer.Decode([.. ids.Select(id => checked((uint)id))]);

    public void Dispose() => tokenizer.Dispose();

    /// <summary>
    /// The native side rejects invalid UTF-16 (a lone surrogate, e.g. from a cut-off emoji in a
    /// browser field) with an error; encoding it as U+FFFD, as UTF-8 conversion does, keeps the prompt.
    /// </summary>
    private static string ReplaceLoneSurrogates(string text)
    {
        foreach (var c in text)
        {
            if (char.IsSurrogate(c))
            {
                return Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));
            }
        }

        return text;
    }
}
