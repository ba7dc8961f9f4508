using FluxWeb.Inference.Packages;

namespace FluxWeb.Inference.Pipeline;

/// <summary>
/// Checks a request against its model's rules and the server's limits before anything runs, and
/// resolves the defaults. Every refusal says what was wrong and what is allowed.
/// </summary>
public static class GenerationValidator
{
    public const int DefaultSide = 1024;
    public const int MaxPromptCharacters = 20_000;

    public static ResolvedGeneration Resolve(GenerationRequest request, InstalledModel? model, InferenceOptions limits)
    {
        if (model is null)
        {
            throw new GenerationRequestException($"Model '{request.ModelId}' is not installed.");
        }

        var manifest = model.Manifest ?? throw new GenerationRequestException($"Model '{request.ModelId}' cannot be used: {model.Error}");
        if (model.DeviceProblem is { } unusable)
        {
            // Said before anything loads: otherwise the session load fails with a misleading "run models verify".
            throw new GenerationRequestException($"{manifest.Label}: {unusable}");
        }

        var name = manifest.Label;
        if (request.Prompt.Length > MaxPromptCharacters)
        {
            throw new GenerationRequestException($"The prompt has {request.Prompt.Length:N0} characters; at most {MaxPromptCharacters:N0} are accepted (the text encoder reads 512 tokens).");
        }

        var imageCount = request.References.Count + (request.Source is null ? 0 : 1);
        if (imageCount > limits.MaxReferences)
        {
            throw new GenerationRequestException($"{imageCount} input images were given; at most {limits.MaxReferences} are allowed (the source of a masked edit counts as one).");
        }

        var steps = request.Steps ?? manifest.Sampling.DefaultSteps;
        if (steps < manifest.Sampling.MinSteps || steps > manifest.Sampling.MaxSteps)
        {
            throw new GenerationRequestException(manifest.Sampling.MinSteps == manifest.Sampling.MaxSteps
                ? $"{name} runs exactly {manifest.Sampling.MinSteps} steps ({manifest.Variant.ToString().ToLowerInvariant()}); {steps} were asked."
                : $"Steps must be between {manifest.Sampling.MinSteps} and {manifest.Sampling.MaxSteps} for {name}; {steps} were asked.");
        }

        float? guidance = null;
        if (manifest.Sampling.UsesGuidance)
        {
            guidance = request.Guidance ?? manifest.Sampling.DefaultGuidance;
            if (guidance < manifest.Sampling.MinGuidance || guidance > manifest.Sampling.MaxGuidance)
            {
                throw new GenerationRequestException($"Guidance must be between {manifest.Sampling.MinGuidance} and {manifest.Sampling.MaxGuidance} for {name}; {guidance} was asked.");
            }
        }
        else if (request.Guidance is not null)
        {
            throw new GenerationRequestException($"{name} is guidance-distilled and takes no guidance value; leave it empty.");
        }

        var (width, height) = ResolveSize(request, limits);
        if (request.Source is not null)
        {
            ValidateMaskedEdit(request);
        }
        else if (request.Mask is not null)
        {
            throw new GenerationRequestException("A mask was given without a source image to edit.");
        }

        return new ResolvedGeneration(width, height, steps, guidance, width / 16 * (height / 16));
    }

    private static (int Width, int Height) ResolveSize(GenerationRequest request, InferenceOptions limits)
    {
        int width, height;
        var first = request.Source ?? (request.References.Count > 0 ? request.References[0] : null);
        if (request.Source is not null)
        {
            var geometry = ImagePreparation.CheckAndPlan(request.Source.Width, request.Source.Height, limits.MaxPixels, "The source image");
            (width, height) = (geometry.Width, geometry.Height);
            if ((request.Width is { } w && w / 16 * 16 != width) || (request.Height is { } h && h / 16 * 16 != height))
            {
                throw new GenerationRequestException($"A masked edit keeps the source's size ({width}×{height} after preparation); leave width and height empty.");
            }
        }
        else if (request.Width is null && request.Height is null && first is not null)
        {
            var geometry = ImagePreparation.CheckAndPlan(first.Width, first.Height, limits.MaxReferencePixels, "Reference image 1");
            (width, height) = (geometry.Width, geometry.Height);
        }
        else
        {
            width = (request.Width ?? DefaultSide) / 16 * 16;
            height = (request.Height ?? DefaultSide) / 16 * 16;
        }

        var minSide = Math.Max(16, limits.MinSide / 16 * 16);
        var maxSide = limits.MaxSide / 16 * 16;
        foreach (var (label, value) in new[] { ("Width", width), ("Height", height) })
        {
            if (value < minSide || value > maxSide)
            {
                throw new GenerationRequestException($"{label} {value} is outside {minSide}–{maxSide} pixels (sizes are floored to multiples of 16).");
            }
        }

        if ((long)width * height > limits.MaxPixels)
        {
            throw new GenerationRequestException($"{width}×{height} is {(long)width * height:N0} pixels; at most {limits.MaxPixels:N0} are allowed.");
        }

        return (width, height);
    }

    private static void ValidateMaskedEdit(GenerationRequest request)
    {
        if (request.Mask is null)
        {
            throw new GenerationRequestException("A masked edit needs a mask (white where the image should change).");
        }

        if (request.Mask.Width != request.Source!.Width || request.Mask.Height != request.Source.Height)
        {
            throw new GenerationRequestException($"The mask is {request.Mask.Width}×{request.Mask.Height} but the source is {request.Source.Width}×{request.Source.Height}; they must match.");
        }

        if (request.Strength is <= 0f or > 1f || float.IsNaN(request.Strength))
        {
            throw new GenerationRequestException($"Strength must be above 0 and at most 1; {request.Strength} was asked.");
        }
    }

    /// <summary>
    /// The first step of a masked edit: strength trims the start of the schedule as diffusers' Flux
    /// img2img/inpaint pipelines do (in floating point, so any strength above 0 keeps at least one step).
    /// </summary>
    public static int StartStep(int steps, float strength)
    {
        var initial = Math.Min(steps * (double)strength, steps);
        return (int)Math.Max(steps - initial, 0);
    }
}
