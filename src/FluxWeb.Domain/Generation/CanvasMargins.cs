using System.Globalization;

namespace FluxWeb.Domain.Generation;

/// <summary>
/// How far to extend a picture on each side (outpainting), in pixels. The extended picture is a generation's size,
/// so each margin is a multiple of 16 (every output is) and the result obeys <see cref="GenerationLimits.CheckSize"/>;
/// the Studio's dialog and the loop ask <see cref="Problem"/> alike.
/// </summary>
public sealed record CanvasMargins(int Left, int Top, int Right, int Bottom)
{
    public bool IsEmpty => Left == 0 && Top == 0 && Right == 0 && Bottom == 0;

    /// <summary>The extended picture's size (long: four margins from a request can add up past int).</summary>
    public (long Width, long Height) Around(int width, int height) => ((long)width + Left + Right, (long)height + Top + Bottom);

    /// <summary>Why these margins cannot extend a <paramref name="width"/> × <paramref name="height"/> picture here; null when they can.</summary>
    public string? Problem(int width, int height, GenerationLimits limits)
    {
        foreach (var (side, pixels) in Sides)
        {
            if (pixels < 0)
            {
                return string.Create(CultureInfo.InvariantCulture, $"The {side} margin cannot be negative ({pixels} was asked); use 0 to leave that side as it is.");
            }

            if (pixels % GenerationLimits.SizeStep != 0)
            {
                // Long: the step above int.MaxValue's own is past int.
                var below = (long)pixels / GenerationLimits.SizeStep * GenerationLimits.SizeStep;
                return string.Create(CultureInfo.InvariantCulture, $"The {side} margin must be a multiple of 16: {pixels} is not; use {below} or {below + GenerationLimits.SizeStep}.");
            }
        }

        if (IsEmpty)
        {
            return "Say how far to extend the picture: at least one side needs a margin.";
        }

        var (wide, high) = Around(width, height);
        if (wide > int.MaxValue || high > int.MaxValue || limits.CheckSize((int)wide, (int)high) is { Fits: false })
        {
            // One step on one side is the least an extension adds: when not even that fits, smaller margins will not help.
            var canGrow = limits.Fits(width + GenerationLimits.SizeStep, height) || limits.Fits(width, height + GenerationLimits.SizeStep);
            return string.Create(
                CultureInfo.InvariantCulture,
                $"{width}×{height} extended is {wide}×{high}, more than this server makes: at most {limits.LargestSide} px a side and {limits.MaxPixels / 1e6:0.#} megapixels. {(canGrow ? "Use smaller margins." : "This picture cannot grow here; ask an administrator to raise Inference:MaxSide and Inference:MaxPixels.")}");
        }

        return null;
    }

    /// <summary>
    /// The largest margins, split evenly between opposite sides, that add up to at most <paramref name="widthGrowth"/> ×
    /// the width and <paramref name="heightGrowth"/> × the height and still fit the limits (the dialog's quick
    /// choices); all zero when nothing fits.
    /// </summary>
    public static CanvasMargins Grow(int width, int height, double widthGrowth, double heightGrowth, GenerationLimits limits)
    {
        // Margins in pairs of 16 px steps, one step each side, shrunk together until the picture fits.
        var across = (int)Math.Floor(width * widthGrowth / (2 * GenerationLimits.SizeStep));
        var down = (int)Math.Floor(height * heightGrowth / (2 * GenerationLimits.SizeStep));
        while (across > 0 || down > 0)
        {
            var margins = new CanvasMargins(across * GenerationLimits.SizeStep, down * GenerationLimits.SizeStep, across * GenerationLimits.SizeStep, down * GenerationLimits.SizeStep);
            if (margins.Problem(width, height, limits) is null)
            {
                return margins;
            }

            // A side past the limit shrinks its own margins; otherwise the area is too large and the larger growth gives way.
            var wideEnough = limits.SideProblem("Width", width + (2 * across * GenerationLimits.SizeStep)) is null;
            var highEnough = limits.SideProblem("Height", height + (2 * down * GenerationLimits.SizeStep)) is null;
            if (!wideEnough && across > 0)
            {
                across--;
            }
            else if (!highEnough && down > 0)
            {
                down--;
            }
            else if (across >= down && across > 0)
            {
                across--;
            }
            else
            {
                down--;
            }
        }

        return new CanvasMargins(0, 0, 0, 0);
    }

    private IEnumerable<(string Side, int Pixels)> Sides => [("left", Left), ("top", Top), ("right", Right), ("bottom", Bottom)];
}
