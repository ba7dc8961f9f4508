using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Pipeline;

namespace FluxWeb.Application.Jobs;

/// <summary>Stands in until an inference engine is registered: requests are refused at the door with a clear reason.</summary>
public sealed class UnavailableImageGenerator : IImageGenerator
{
    public const string Reason = "Image generation is not available on this server: no inference engine is installed in this version of FluxWeb.";

    public ResolvedGeneration Validate(GenerationRequest request) => throw new GenerationRequestException(Reason);

    public Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken) =>
        Task.FromException<GenerationResult>(new InferenceFailedException(InferenceFailure.ModelUnavailable, Reason));
}
