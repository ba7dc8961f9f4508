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

    /// <summary>No classifier is installed: nothing was checked, and the admin page says so.</summary>
    Unchecked,
}

public sealed record ContentDecision(ContentVerdict Verdict, double? NsfwProbability, string? Message)
{
    public bool MustBlur => Verdict == ContentVerdict.BlurredForReview;

    public bool NeedsReview => Verdict == ContentVerdict.BlurredForReview;
}

/// <summary>Whether image filtering runs, in words for the admin page and /healthz.</summary>
public sealed record ImageFilterStatus(bool Enabled, string Description);

/// <summary>Applies the admin's image policy with the operator-supplied classifier, if any.</summary>
public sealed class ImageContentFilter(IOptions<ContentFilterOptions> options, IImageSafetyClassifier? classifier, ImageFilterStatus status)
{
    private readonly ContentFilterOptions _options = options.Value;

    public ImageFilterStatus Status { get; } = status;

    public ContentDecision Screen(Image<Rgba32> image, ImageRole role)
    {
        if (classifier is null)
        {
            return new ContentDecision(ContentVerdict.Unchecked, null, Status.Description);
        }

        var probability = classifier.NsfwProbability(image);
        if (probability <= _options.ImageThreshold)
        {
            return new ContentDecision(ContentVerdict.Allowed, probability, null);
        }

        return role == ImageRole.Input || _options.OutputAction == ContentAction.Block
            ? new ContentDecision(ContentVerdict.Blocked, probability, role == ImageRole.Input
                ? "This image was flagged by the content filter and cannot be used. Choose another image."
                : "The generated image was flagged by the content filter and was not kept.")
            : new ContentDecision(ContentVerdict.BlurredForReview, probability, "The generated image was flagged by the content filter: it is shown blurred until an admin reviews it.");
    }

    /// <summary>Blurs beyond recognition: pixelate, then a wide Gaussian blur, both scaled to the picture.</summary>
    public static void Blur(Image<Rgba32> image)
    {
        var size = Math.Max(image.Width, image.Height);
        image.Mutate(x => x.Pixelate(Math.Max(2, size / 24)).GaussianBlur(Math.Max(2f, size / 48f)));
    }
}
