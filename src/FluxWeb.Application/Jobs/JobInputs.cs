using FluxWeb.Application.Images;
using FluxWeb.Application.Licensing;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Persistence.Jobs;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Application.Jobs;

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

    /// <summary>Loads the owner's own images; any other id reads as missing, with a message for the user.</summary>
    public static async Task<(JobInputs? Inputs, string? Error)> LoadAsync(
        ImageStore store, string ownerId, IReadOnlyList<Guid> referenceIds, Guid? sourceId, Guid? maskId, CancellationToken cancellationToken)
    {
        var references = new List<Image<Rgb24>>();
        Image<Rgb24>? source = null;
        Image<L8>? mask = null;
        try
        {
            for (var i = 0; i < referenceIds.Count; i++)
            {
                var reference = await store.LoadAsync<Rgb24>(ownerId, referenceIds[i], cancellationToken);
                if (reference is null)
                {
                    return (null, $"Reference image {i + 1} was not found. Upload it again.");
                }

                references.Add(reference);
            }

            if (sourceId is { } sid)
            {
                source = await store.LoadAsync<Rgb24>(ownerId, sid, cancellationToken);
                if (source is null)
                {
                    return (null, "The source image was not found. Upload it again.");
                }
            }

            if (maskId is { } mid)
            {
                mask = await store.LoadAsync<L8>(ownerId, mid, cancellationToken);
                if (mask is null)
                {
                    return (null, "The mask was not found. Paint it again.");
                }
            }

            var inputs = new JobInputs(references, source, mask);
            references = [];
            source = null;
            mask = null;
            return (inputs, null);
        }
        finally
        {
            references.ForEach(r => r.Dispose());
            source?.Dispose();
            mask?.Dispose();
        }
    }

    /// <summary>The licence refusal for reusing one of these images as input (a commercial account and a non-commercial output), or null.</summary>
    public static async Task<string?> LicenceRefusalAsync(ImageStore store, LicenceGate licences, string ownerId, IReadOnlyList<Guid> referenceIds, Guid? sourceId, CancellationToken cancellationToken)
    {
        foreach (var id in sourceId is { } source ? referenceIds.Append(source) : referenceIds)
        {
            if (await store.FindRowAsync(ownerId, id, cancellationToken) is { } row
                && await licences.MayReceiveAsync(ownerId, isAdmin: false, row, LicencedAction.UseAsReference, cancellationToken) is { Allowed: false } refused)
            {
                return refused.Reason;
            }
        }

        return null;
    }

    public GenerationRequest ToRequest(Job job) => new()
    {
        ModelId = job.ModelId,
        Prompt = job.Prompt,
        Width = job.Width,
        Height = job.Height,
        Seed = job.Seed,
        Steps = job.Steps,
        Guidance = job.Guidance,
        References = References,
        Source = Source,
        Mask = Mask,
        Strength = job.Strength,
        FeatherComposite = job.FeatherComposite,
    };

    public static JobMode ModeOf(GenerationRequest request) => request.Mode switch
    {
        GenerationMode.Edit => JobMode.Edit,
        GenerationMode.MultiReference => JobMode.MultiReference,
        GenerationMode.MaskedEdit => JobMode.MaskedEdit,
        _ => JobMode.TextToImage,
    };

    public void Dispose()
    {
        References.ForEach(r => r.Dispose());
        Source?.Dispose();
        Mask?.Dispose();
    }
}
