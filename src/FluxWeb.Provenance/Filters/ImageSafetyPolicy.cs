using System.Globalization;

namespace FluxWeb.Provenance.Filters;

/// <summary>A classifier's probability for each of its classes (they sum to 1 for a softmax classifier).</summary>
public sealed record ImageScores(IReadOnlyDictionary<string, double> Classes)
{
    public double Sum(IEnumerable<string> classes) => classes.Sum(c => Classes.GetValueOrDefault(c));
}

/// <summary>Flag when the summed probability of <see cref="Classes"/> reaches <see cref="Threshold"/>.</summary>
public sealed record ClassThreshold(IReadOnlyList<string> Classes, double Threshold)
{
    public string Label => string.Join(" + ", Classes);
}

/// <summary>
/// When a picture counts as flagged: any rule whose classes together reach its threshold. The
/// default for nsfwjs (admins change it on <c>/admin/content</c>): Porn + Hentai ≥ 0.7, or Sexy ≥ 0.9.
/// Porn and Hentai are summed because the model often splits explicit material between them
/// (a photo-like hentai picture, a drawn porn scene), and either is what we must not deliver; 0.7
/// keeps the false alarms on ordinary pictures rare while catching what the model is fairly sure of.
/// Sexy (swimwear, lingerie, suggestive poses) is allowed in most design work, so only a confident
/// 0.9 flags it. Drawing and Neutral never flag.
/// </summary>
public sealed record ImageSafetyPolicy(IReadOnlyList<ClassThreshold> Rules)
{
    public static ImageSafetyPolicy NsfwjsDefault { get; } = new([new ClassThreshold(["Porn", "Hentai"], 0.7), new ClassThreshold(["Sexy"], 0.9)]);

    /// <summary>The score stored with an image: the summed probability of every class some rule watches.</summary>
    public double Score(ImageScores scores) => scores.Sum(Rules.SelectMany(r => r.Classes).Distinct(StringComparer.Ordinal));

    /// <summary>The first rule the scores reach, in words ("Porn + Hentai 0.82 ≥ 0.70"), or null.</summary>
    public string? Reason(ImageScores scores)
    {
        foreach (var rule in Rules)
        {
            var sum = scores.Sum(rule.Classes);
            if (sum >= rule.Threshold)
            {
                return string.Create(CultureInfo.InvariantCulture, $"{rule.Label} {sum:0.00} ≥ {rule.Threshold:0.00}");
            }
        }

        return null;
    }

    public string Describe() => Rules.Count == 0
        ? "no thresholds set, nothing is flagged"
        : "flagged when " + string.Join(" or ", Rules.Select(r => string.Create(CultureInfo.InvariantCulture, $"{r.Label} ≥ {r.Threshold:0.##}")));

    /// <summary>Rules naming a class the classifier does not have, in words; empty when all are known.</summary>
    public IReadOnlyList<string> UnknownClasses(IReadOnlyList<string> classes) =>
        Rules.SelectMany(r => r.Classes).Where(c => !classes.Contains(c, StringComparer.Ordinal)).Distinct(StringComparer.Ordinal).ToList();
}
