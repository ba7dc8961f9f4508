using FluxWeb.Domain.Generation;
using FluxWeb.Inference.Packages;

namespace FluxWeb.Inference.Pipeline;

/// <summary>
/// Checks a request against its model's rules and the server's limits before anything runs, and
/// resolves the defaults. Every refusal says what was wrong and what is allowed. Sizes, the prompt's
/// length, the number of pictures and the strength follow <see cref="GenerationLimits"/>, the rules
/// the Studio shows and every door applies.
/// </summary>
public static class GenerationValidator
{
    public const int DefaultSide = GenerationLimits.DefaultSide;

    public static ResolvedGeneration Resolve(GenerationRequest request, InstalledModel? model, InferenceOptions options)
    {
        var limits = options.ToGenerationLimits();
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
        if (GenerationLimits.PromptProblem(request.Prompt) is { } promptProblem)
        {
            throw new GenerationRequestException(promptProblem);
        }

        if (GenerationLimits.NegativePromptProblem(request.NegativePrompt) is { } negativeProblem)
        {
            throw new GenerationRequestException(negativeProblem);
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
        else if (request.NegativePrompt.Length > 0)
        {
            // Without guidance there is no unconditional pass for it to steer: accepting it would silently do nothing.
            throw new GenerationRequestException($"{name} is guidance-distilled and takes no negative prompt; leave it empty, or choose a base model.");
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

    private static (int Width, int Height) ResolveSize(GenerationRequest request, GenerationLimits limits)
    {
        int width, height;
        var first = request.Source ?? (request.References.Count > 0 ? request.References[0] : null);
        if (request.Source is not null)
        {
            var geometry = ImagePreparation.CheckAndPlan(request.Source.Width, request.Source.Height, limits.MaxPixels, "The source image");
            (width, height) = (geometry.Width, geometry.Height);
            if ((request.Width is { } w && w != width) || (request.Height is { } h && h != height))
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
            (width, height) = (request.Width ?? DefaultSide, request.Height ?? DefaultSide);
        }

        var size = limits.CheckSize(width, height);
        return size.Problem is { } problem ? throw new GenerationRequestException(problem) : (width, height);
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

        if (GenerationLimits.StrengthProblem(request.Strength) is { } strengthProblem)
        {
            throw new GenerationRequestException(strengthProblem);
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
