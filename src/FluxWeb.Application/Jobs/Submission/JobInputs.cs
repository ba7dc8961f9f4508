using FluxWeb.Application.Images;
using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Generation;
using FluxWeb.Inference.Pipeline;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Application.Jobs;

/// <summary>Why a job's inputs cannot be used: a message for the user, and whether it is the licence's refusal.</summary>
internal sealed record InputProblem(string Message, bool LicenceRefused);

/// <summary>A job's decoded input images, owned by one user; disposed with the request they built.</summary>
internal sealed class JobInputs : IDisposable
{
    private JobInputs(List<Image<Rgb24>> references, Image<Rgb24>? source, Image<L8>? mask)
    {
        References = references;
        Source = source;
        Mask = mask;
    }

    public List<Image<Rgb24>> References { get; }

    public Image<Rgb24>? Source { get; }

    public Image<L8>? Mask { get; }

    /// <summary>
    /// Checks every input of a request through <see cref="ImageAccess.InputAsync"/>: the owner's own,
    /// of the right kind, and allowed as input under the account's licence (references, the source
    /// and the mask alike). A licence refusal wins over every other problem and is reported as such,
    /// so the caller answers 403 and audits it. On success: the references, then source and mask.
    /// </summary>
    public static async Task<(IReadOnlyList<ImageAccessResult> Inputs, InputProblem? Problem)> CheckAsync(
        ImageAccess access, string ownerId, GenerationSettings settings, CancellationToken cancellationToken)
    {
        var (sourceId, maskId) = (settings.SourceImageId, settings.MaskImageId);
        var wanted = settings.ReferenceImageIds.Select((id, i) => (Id: id, Role: InputRole.Reference, Name: $"Reference image {i + 1}", Missing: $"Reference image {i + 1} was not found. Upload it again.")).ToList();
        if (sourceId is { } source)
        {
            wanted.Add((source, InputRole.Source, "The source image", "The source image was not found. Upload it again."));
        }

        if (maskId is { } mask)
        {
            wanted.Add((mask, InputRole.Mask, "The mask", "The mask was not found. Paint it again."));
        }

        var results = new List<ImageAccessResult>();
        foreach (var input in wanted)
        {
            var result = await access.InputAsync(ownerId, input.Id, input.Role, cancellationToken);
            if (result.Outcome == ImageAccessOutcome.LicenceRefused)
            {
                return ([], new InputProblem(result.Reason!, LicenceRefused: true));
            }

            results.Add(result);
        }

        for (var i = 0; i < results.Count; i++)
        {
            switch (results[i].Outcome)
            {
                case ImageAccessOutcome.NotFound:
                    return ([], new InputProblem(wanted[i].Missing, LicenceRefused: false));
                case ImageAccessOutcome.WrongKind:
                    return ([], new InputProblem($"{wanted[i].Name}: {results[i].Reason}", LicenceRefused: false));
            }
        }

        return (results, null);
    }

    /// <summary>Checks (<see cref="CheckAsync"/>) and decodes a job's inputs; a file that vanished in between reads as missing.</summary>
    public static async Task<(JobInputs? Inputs, InputProblem? Problem)> LoadAsync(
        ImageAccess access, string ownerId, GenerationSettings settings, CancellationToken cancellationToken)
    {
        var (allowed, problem) = await CheckAsync(access, ownerId, settings, cancellationToken);
        var (referenceIds, sourceId, maskId) = (settings.ReferenceImageIds, settings.SourceImageId, settings.MaskImageId);
        if (problem is not null)
        {
            return (null, problem);
        }

        var references = new List<Image<Rgb24>>();
        Image<Rgb24>? source = null;
        Image<L8>? mask = null;
        try
        {
            for (var i = 0; i < referenceIds.Count; i++)
            {
                references.Add(await ImageAccess.LoadAsync<Rgb24>(allowed[i], cancellationToken));
            }

            if (sourceId is not null)
            {
                source = await ImageAccess.LoadAsync<Rgb24>(allowed[referenceIds.Count], cancellationToken);
            }

            if (maskId is not null)
            {
                mask = await ImageAccess.LoadAsync<L8>(allowed[^1], cancellationToken);
            }

            var inputs = new JobInputs(references, source, mask);
            references = [];
            source = null;
            mask = null;
            return (inputs, null);
        }
        catch (FileNotFoundException)
        {
            return (null, new InputProblem("An input image was deleted while the job was prepared. Add it again.", false));
        }
        finally
        {
            references.ForEach(r => r.Dispose());
            source?.Dispose();
            mask?.Dispose();
        }
    }

    /// <summary>The engine's request for these settings (which must carry their seed) with these pictures.</summary>
    public GenerationRequest ToRequest(GenerationSettings settings) => GenerationRequest.For(settings, References, Source, Mask);

    public void Dispose()
    {
        References.ForEach(r => r.Dispose());
        Source?.Dispose();
        Mask?.Dispose();
    }
}
