using System.Globalization;
using System.Text;

namespace FluxWeb.Provenance.Filters;

/// <summary>
/// Reduces text to lowercase ASCII-ish words so that block-list terms match through the usual evasions: case,
/// diacritics and compatibility forms (NFKD), Cyrillic/Greek look-alikes, zero-width characters, leetspeak,
/// punctuation inside words ("n.u.d.e", "nu-de") and spaced-out letters ("n u d e").
/// </summary>
public static class PromptNormalizer
{
    private static readonly Dictionary<char, char> Confusables = new()
    {
        ['а'] = 'a', ['в'] = 'b', ['е'] = 'e', ['ё'] = 'e', ['к'] = 'k', ['м'] = 'm', ['н'] = 'h', ['о'] = 'o', ['п'] = 'n', ['р'] = 'p',
        ['с'] = 'c', ['т'] = 't', ['у'] = 'y', ['х'] = 'x', ['і'] = 'i', ['ї'] = 'i', ['ј'] = 'j', ['ѕ'] = 's', ['ԁ'] = 'd',
        ['ɡ'] = 'g', ['ո'] = 'n', ['ս'] = 'u', ['α'] = 'a', ['β'] = 'b', ['ε'] = 'e', ['η'] = 'n', ['ι'] = 'i', ['κ'] = 'k',
        ['ν'] = 'v', ['ο'] = 'o', ['ρ'] = 'p', ['τ'] = 't', ['υ'] = 'u', ['χ'] = 'x', ['ω'] = 'w', ['ß'] = 's', ['ø'] = 'o',
        ['ł'] = 'l', ['đ'] = 'd', ['ı'] = 'i',
    };

    private static readonly Dictionary<char, char> Leet = new()
    {
        ['0'] = 'o', ['1'] = 'i', ['3'] = 'e', ['4'] = 'a', ['5'] = 's', ['7'] = 't', ['8'] = 'b', ['9'] = 'g',
        ['@'] = 'a', ['$'] = 's', ['!'] = 'i', ['|'] = 'l', ['+'] = 't', ['€'] = 'e', ['£'] = 'l',
    };

    /// <summary>The words of a block-list term: symbols are never read as letters there.</summary>
    public static IReadOnlyList<string> Words(string text) => Normalize(text).Words;

    public static NormalizedText Normalize(string text)
    {
        var decomposed = new StringBuilder(text.Length);
        foreach (var c in text.Normalize(NormalizationForm.FormKD))
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) is not (UnicodeCategory.NonSpacingMark or UnicodeCategory.Format or UnicodeCategory.EnclosingMark))
            {
                var lower = char.ToLowerInvariant(c);
                decomposed.Append(Confusables.GetValueOrDefault(lower, lower));
            }
        }

        var plain = Fold(decomposed, symbolsAsLetters: false);
        var leet = Fold(decomposed, symbolsAsLetters: true);
        return new NormalizedText(plain.Words, leet.Words, plain.SpacedRuns.Concat(leet.SpacedRuns).Distinct().ToList());
    }

    /// <summary>
    /// Digits always read as letters ("nud3"); symbols such as @ $ ! only in the second reading ("@$$"), because
    /// "nude!" must not become "nudei".
    /// </summary>
    private static (List<string> Words, List<string> SpacedRuns) Fold(StringBuilder decomposed, bool symbolsAsLetters)
    {
        var folded = new StringBuilder(decomposed.Length);
        for (var i = 0; i < decomposed.Length; i++)
        {
            var c = decomposed[i];
            if (Leet.TryGetValue(c, out var letter) && (char.IsDigit(c) || symbolsAsLetters))
            {
                c = letter;
            }

            if (char.IsLetter(c))
            {
                folded.Append(c);
            }
            else if (char.IsWhiteSpace(c) || c is ',' or ';' or ':' or '(' or ')' or '[' or ']' or '{' or '}' or '"' or '/' or '?' or '!' or '<' or '>')
            {
                folded.Append(' ');
            }
        }

        var words = new List<string>();
        var runs = new List<string>();
        var run = new StringBuilder();
        foreach (var token in folded.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (token.Length == 1)
            {
                run.Append(token);
                continue;
            }

            Flush();
            words.Add(token);
        }

        Flush();
        return (words, runs);

        void Flush()
        {
            if (run.Length > 0)
            {
                words.Add(run.ToString());
                runs.Add(run.ToString());
                run.Clear();
            }
        }
    }
}

/// <summary>
/// Two word readings (symbols kept out / read as letters) and the runs of spaced-out single letters ("a n u d e"
/// gives the run "anude", searched as a substring).
/// </summary>
public sealed record NormalizedText(IReadOnlyList<string> Words, IReadOnlyList<string> LeetWords, IReadOnlyList<string> SpacedRuns);
