using FluxWeb.Domain.Generation;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace FluxWeb.Application.Jobs.Loop;

/// <summary>The two pictures an extension (outpainting) is a masked edit of: the larger canvas and what of it to paint.</summary>
public sealed class ExtendedCanvas(Image<Rgb24> canvas, Image<L8> mask) : IDisposable
{
    /// <summary>The picture at its place on the larger canvas; the margins hold a blurred continuation of its edges.</summary>
    public Image<Rgb24> Canvas { get; } = canvas;

    /// <summary>White (repaint) over the margins and <see cref="CanvasExtension.SeamOverlap"/> into the picture beside them; black keeps the rest.</summary>
    public Image<L8> Mask { get; } = mask;

    public void Dispose()
    {
        Canvas.Dispose();
        Mask.Dispose();
    }
}

/// <summary>
/// Builds an extension's canvas and mask (ADR 0031). The margins are painted from pure noise (strength 1), so their
/// fill only matters as what the model sees of the canvas among its references: the picture's edge pixels stretched
/// outwards and blurred, a neutral continuation of its colours rather than a black frame the model would keep.
/// </summary>
public static class CanvasExtension
{
    /// <summary>
    /// How far the repainted area reaches into the picture on each extended side (one latent token): the seam is painted
    /// over and blended by the feathered composite, instead of the old edge staying as a hard line.
    /// </summary>
    public const int SeamOverlap = GenerationLimits.SizeStep;

    /// <summary>The fill's blur, wide enough that stretched edge pixels read as colour, not as streaks.</summary>
    private const float FillBlur = 12f;

    public static ExtendedCanvas Compose(Image<Rgb24> picture, CanvasMargins margins)
    {
        ArgumentNullException.ThrowIfNull(picture);
        ArgumentNullException.ThrowIfNull(margins);
        if (margins.IsEmpty || margins.Left < 0 || margins.Top < 0 || margins.Right < 0 || margins.Bottom < 0)
        {
            throw new ArgumentException("An extension needs non-negative margins, at least one of them above 0.", nameof(margins));
        }

        var (wide, high) = margins.Around(picture.Width, picture.Height);
        var canvas = new Image<Rgb24>(checked((int)wide), checked((int)high));
        try
        {
            // Every canvas pixel takes the picture's nearest pixel: inside, itself; in a margin, the edge it continues.
            picture.ProcessPixelRows(canvas, (from, to) =>
            {
                for (var y = 0; y < to.Height; y++)
                {
                    var source = from.GetRowSpan(Math.Clamp(y - margins.Top, 0, from.Height - 1));
                    var row = to.GetRowSpan(y);
                    for (var x = 0; x < row.Length; x++)
                    {
                        row[x] = source[Math.Clamp(x - margins.Left, 0, source.Length - 1)];
                    }
                }
            });
            canvas.Mutate(c => c.GaussianBlur(FillBlur).DrawImage(picture, new Point(margins.Left, margins.Top), 1f));
            return new ExtendedCanvas(canvas, Mask(picture.Width, picture.Height, margins));
        }
        catch
        {
            canvas.Dispose();
            throw;
        }
    }

    private static Image<L8> Mask(int width, int height, CanvasMargins margins)
    {
        var (wide, high) = margins.Around(width, height);
        var mask = new Image<L8>((int)wide, (int)high, new L8(255));
        // What is kept: the picture, less the overlap on each side that grows (a side that does not grow keeps its edge).
        var left = margins.Left + (margins.Left > 0 ? SeamOverlap : 0);
        var top = margins.Top + (margins.Top > 0 ? SeamOverlap : 0);
        var right = margins.Left + width - (margins.Right > 0 ? SeamOverlap : 0);
        var bottom = margins.Top + height - (margins.Bottom > 0 ? SeamOverlap : 0);
        if (right <= left || bottom <= top)
        {
            // A picture no wider than the overlaps is repainted whole.
            return mask;
        }

        mask.ProcessPixelRows(rows =>
        {
            for (var y = top; y < bottom; y++)
            {
                rows.GetRowSpan(y)[left..right].Fill(new L8(0));
            }
        });
        return mask;
    }
}
