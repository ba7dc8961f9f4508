using Microsoft.Extensions.Options;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace FluxWeb.Provenance.Filters;

public enum ImageRole
{
    /// <summary>An uploaded reference, source or mask: a flagged input is always refused.</summary>
    Input,

    /// <summary>A generated image: a flagged output is blocked or blurred and flagged, per policy.</summary>
    Output,
}

public enum ContentVerdict
{
    Allowed,
    Blocked,
    BlurredForReview,

    /// <summary>No classifier is running (not installed, still installing, or failed): nothing was checked, and the admin page says so.</summary>
    Unchecked,
}

public sealed record ContentDecision(ContentVerdict Verdict, double? NsfwProbability, string? Message)
{
    public bool MustBlur => Verdict == ContentVerdict.BlurredForReview;

    public bool NeedsReview => Verdict == ContentVerdict.BlurredForReview;

    /// <summary>Every class's probability, when a classifier ran.</summary>
    public ImageScores? Scores { get; init; }

    /// <summary>Which rule flagged the picture, in words ("Porn + Hentai 0.82 ≥ 0.70").</summary>
    public string? Reason { get; init; }
}

public enum ImageFilterState
{
    Off,
    Installing,
    On,
}

/// <summary>Whether image filtering runs, in words for the admin page and /healthz.</summary>
public sealed record ImageFilterStatus(ImageFilterState State, string Description)
{
    public bool Enabled => State == ImageFilterState.On;

    public string StateName => State.ToString().ToLowerInvariant();
}

/// <summary>One picture checked without any role's consequences (the CLI's <c>safety check</c>, the admin page).</summary>
public sealed record ImageClassification(ImageScores Scores, bool Flagged, string? Reason, double Score, string Model);

/// <summary>
/// Applies the admin's image policy with the classifier that is running, if any. The classifier can
/// arrive after start-up (the background install on a fresh server) and the policy can change at any
/// time (admin page); both are swapped atomically, so a check sees one or the other, never half.
/// </summary>
public sealed class ImageContentFilter
{
    private readonly ContentFilterOptions options;
    private volatile Running running;
    private volatile ImageSafetyPolicy policy = ImageSafetyPolicy.NsfwjsDefault;

    public ImageContentFilter(IOptions<ContentFilterOptions> options, IImageSafetyClassifier? classifier, ImageFilterStatus status)
    {
        this.options = options.Value;
        running = new Running(classifier, status);
    }

    public ImageFilterStatus Status
    {
        get
        {
            var running = this.running;
            return running.Classifier is { } classifier
                ? running.Status with { Description = $"Image filtering is on: {classifier.ModelName}, {PolicyFor(classifier).Describe()}; flagged uploads are refused, flagged outputs are {(options.OutputAction == ContentAction.Block ? "blocked" : "blurred and flagged for review")}." }
                : running.Status;
        }
    }

    public IImageSafetyClassifier? Classifier => running.Classifier;

    /// <summary>The thresholds for the installed classifier's classes (an operator-supplied binary classifier uses <c>ImageThreshold</c> instead).</summary>
    public ImageSafetyPolicy Policy => policy;

    public void SetPolicy(ImageSafetyPolicy policy) => this.policy = policy;

    /// <summary>A classifier is ready: from now on every picture is checked.</summary>
    public void Activate(IImageSafetyClassifier classifier) => running = new Running(classifier, new ImageFilterStatus(ImageFilterState.On, ""));

    /// <summary>No classifier runs (installing, or off with the reason and the fix).</summary>
    public void SetStatus(ImageFilterStatus status) => running = new Running(null, status);

    public ImageClassification? Check(Image<Rgba32> image)
    {
        if (running.Classifier is not { } classifier)
        {
            return null;
        }

        var policy = PolicyFor(classifier);
        var scores = classifier.Classify(image);
        var reason = policy.Reason(scores);
        return new ImageClassification(scores, reason is not null, reason, policy.Score(scores), classifier.ModelName);
    }

    public ContentDecision Screen(Image<Rgba32> image, ImageRole role)
    {
        var running = this.running;
        if (running.Classifier is null)
        {
            return new ContentDecision(ContentVerdict.Unchecked, null, running.Status.Description);
        }

        var check = Check(image)!;
        if (!check.Flagged)
        {
            return new ContentDecision(ContentVerdict.Allowed, check.Score, null) { Scores = check.Scores };
        }

        var decision = role == ImageRole.Input || options.OutputAction == ContentAction.Block
            ? new ContentDecision(ContentVerdict.Blocked, check.Score, role == ImageRole.Input
                ? "This image was flagged by the content filter and cannot be used. Choose another image."
                : "The generated image was flagged by the content filter and was not kept.")
            : new ContentDecision(ContentVerdict.BlurredForReview, check.Score, "The generated image was flagged by the content filter: it is shown blurred until an admin reviews it.");
        return decision with { Scores = check.Scores, Reason = check.Reason };
    }

    /// <summary>Blurs beyond recognition: pixelate, then a wide Gaussian blur, both scaled to the picture.</summary>
    public static void Blur(Image<Rgba32> image)
    {
        var size = Math.Max(image.Width, image.Height);
        image.Mutate(x => x.Pixelate(Math.Max(2, size / 24)).GaussianBlur(Math.Max(2f, size / 48f)));
    }

    private ImageSafetyPolicy PolicyFor(IImageSafetyClassifier classifier) =>
        classifier is OnnxImageSafetyClassifier
            // "Flagged above ImageThreshold": p > t is p ≥ the next double after t.
            ? new ImageSafetyPolicy([new ClassThreshold([OnnxImageSafetyClassifier.NsfwClass], Math.BitIncrement(options.ImageThreshold))])
            : policy;

    private sealed record Running(IImageSafetyClassifier? Classifier, ImageFilterStatus Status);
}
