using FluxWeb.Application.Images;
using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// What a generated image was made with, as the Studio needs it for "use these settings": the
/// job's <see cref="GenerationSettings"/> with the resolved size and steps (what really ran), the
/// seed of this very image, and its inputs by id.
/// </summary>
public sealed record JobSettings(Guid JobId, Guid ImageId, JobMode Mode, GenerationSettings Settings);

/// <summary>What "use these settings" found: the settings, or why not (null and null: not found).</summary>
public sealed record JobSettingsResult(JobSettings? Settings, string? LicenceRefusal = null)
{
    public static JobSettingsResult NotFound { get; } = new(Settings: null);
}

/// <summary>
/// Finds the job behind an image. Who may is the image door's rule (<see cref="ImageAccess.MayReadAsync"/>): the
/// owner, someone it is shared with now, or an administrator; anything else reads as "not found". The settings are reused to make a new image
/// (prompt, seed, model, inputs), so they go through <see cref="ImageAccess"/> as the image would
/// as an input: a commercial account gets the licence's refusal for a non-commercial model's image.
/// </summary>
public sealed class JobSettingsReader(IDbContextFactory<FluxWebDbContext> contexts, ImageAccess access)
{
    public async Task<JobSettingsResult> ForImageAsync(JobActor viewer, Guid imageId, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var image = await db.Images.AsNoTracking().SingleOrDefaultAsync(i => i.Id == imageId, cancellationToken);
        if (image?.JobId is not { } jobId || !await access.MayReadAsync(viewer, image, cancellationToken))
        {
            return JobSettingsResult.NotFound;
        }

        if (await access.DecideAsync(viewer, image, LicencedAction.UseAsReference, cancellationToken) is { Allowed: false } refused)
        {
            return new JobSettingsResult(null, refused.Reason);
        }

        var job = await db.Jobs.AsNoTracking().SingleOrDefaultAsync(j => j.Id == jobId, cancellationToken);
        return job is null || job.OwnerId != image.OwnerId
            ? JobSettingsResult.NotFound
            : new JobSettingsResult(new JobSettings(job.Id, image.Id, job.Mode, job.ResolvedSettings()));
    }
}
