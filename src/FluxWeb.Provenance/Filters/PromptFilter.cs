using Microsoft.Extensions.Options;

namespace FluxWeb.Provenance.Filters;

/// <summary>
/// The admin-editable prompt block list plus the optional text classifier. Terms match whole normalised words
/// (a multi-word term matches consecutive words), so "class" never trips on "ass"; see <see cref="PromptNormalizer"/>.
/// </summary>
public sealed class PromptFilter
{
    private readonly IPromptClassifier? classifier;
    private readonly double classifierThreshold;
    private volatile BlockList blockList;

    public PromptFilter(IOptions<ContentFilterOptions> options, IPromptClassifier? classifier = null)
    {
        this.classifier = classifier;
        classifierThreshold = options.Value.PromptClassifierThreshold;
        blockList = new BlockList(options.Value.BlockedTerms);
    }

    public IReadOnlyList<string> BlockedTerms => blockList.Terms;

    public bool HasClassifier => classifier is not null;

    /// <summary>Replaces the list (admin edit); blank lines and duplicates are dropped.</summary>
    public void SetBlockedTerms(IEnumerable<string> terms) => blockList = new BlockList(terms);

    public PromptDecision Check(string prompt)
    {
        var text = PromptNormalizer.Normalize(prompt);
        foreach (var (term, termWords) in blockList.Entries)
        {
            if (Matches(text, termWords))
            {
                return PromptDecision.Block(term, $"The prompt contains a blocked term (\"{term}\"). Rephrase it and try again.");
            }
        }

        if (classifier is not null)
        {
            var score = classifier.UnsafeProbability(prompt);
            if (score > classifierThreshold)
            {
                return PromptDecision.Block(null, "The prompt was flagged by the content classifier. Rephrase it and try again.", score);
            }

            return PromptDecision.Allow(score);
        }

        return PromptDecision.Allow(null);
    }

    /// <summary>Consecutive words in either reading, the term written as one word ("blood-bath"), or inside a spaced-out run.</summary>
    private static bool Matches(NormalizedText text, IReadOnlyList<string> termWords)
    {
        var joined = string.Concat(termWords);
        return ContainsSequence(text.Words, termWords)
            || ContainsSequence(text.LeetWords, termWords)
            || text.Words.Contains(joined)
            || text.LeetWords.Contains(joined)
            || text.SpacedRuns.Any(run => run.Contains(joined, StringComparison.Ordinal));
    }

    private static bool ContainsSequence(IReadOnlyList<string> words, IReadOnlyList<string> sequence)
    {
        for (var start = 0; start + sequence.Count <= words.Count; start++)
        {
            var match = true;
            for (var i = 0; i < sequence.Count && match; i++)
            {
                match = words[start + i] == sequence[i];
            }

            if (match)
            {
                return true;
            }
        }

        return false;
    }

    private sealed class BlockList
    {
        public BlockList(IEnumerable<string> terms)
        {
            Entries = terms.Select(term => term.Trim()).Where(term => term.Length > 0)
                .Select(term => (Term: term, Words: PromptNormalizer.Words(term)))
                .Where(entry => entry.Words.Count > 0)
                .DistinctBy(entry => string.Join(' ', entry.Words))
                .ToList();
            Terms = Entries.Select(entry => entry.Term).ToList();
        }

        public List<(string Term, IReadOnlyList<string> Words)> Entries { get; }

        public List<string> Terms { get; }
    }
}

public sealed record PromptDecision(bool Blocked, string? MatchedTerm, string? Message, double? ClassifierScore)
{
    public static PromptDecision Allow(double? score) => new(false, null, null, score);

    public static PromptDecision Block(string? term, string message, double? score = null) => new(true, term, message, score);
}
