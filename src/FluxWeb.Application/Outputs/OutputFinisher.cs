using FluxWeb.Inference.Packages;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Provenance.C2pa;
using FluxWeb.Provenance.Filters;
using FluxWeb.Provenance.Marking;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Application.Outputs;

/// <summary>An input image as it goes into an output's Content Credentials.</summary>
public sealed record InputImage(string Title, byte[] OriginalBytes);

/// <summary>A generated image ready to store: marked, signed, and what the safety check said.</summary>
public sealed record FinishedImage(byte[] Png, ContentDecision Safety, long Serial);

/// <summary>The output was refused by the image filter; nothing is stored.</summary>
public sealed class OutputBlockedException(string message) : Exception(message);

/// <summary>
/// The last steps every output takes, whichever door it came through (job worker, CLI): the
/// safety check, then the invisible watermark, PNG encoding and the C2PA signature as the very last
/// byte operation. One place, so no door can skip a step.
/// </summary>
public sealed class OutputFinisher(ImageContentFilter filter, OutputMarker marker)
{
    public FinishedImage Finish(GenerationResult result, ModelPackageManifest model, long serial, IReadOnlyList<InputImage> inputs)
    {
        using var image = result.Image.CloneAs<Rgba32>();
        var safety = filter.Screen(image, ImageRole.Output);
        if (safety.Verdict == ContentVerdict.Blocked)
        {
            throw new OutputBlockedException(safety.Message ?? "The generated image was blocked by the content filter.");
        }

        if (safety.MustBlur)
        {
            ImageContentFilter.Blur(image);
        }

        var description = new ManifestDescription
        {
            ModelId = model.Id,
            ModelLicence = model.Licence!.Id,
            Title = $"FluxWeb {model.DisplayName}, seed {result.Seed}",
            Ingredients = inputs.Select(i => IngredientDescription.FromBytes(i.Title, i.OriginalBytes)).ToList(),
        };
        return new FinishedImage(marker.Mark(image, OutputEncoding.Png, serial, description), safety, serial);
    }
}
