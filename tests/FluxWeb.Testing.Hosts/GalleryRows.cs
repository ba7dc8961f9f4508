using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Generation;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Testing;

/// <summary>
/// Finished jobs and their output images written straight into the database (and, when asked,
/// a real PNG into the image store), with exactly the creation times, models, licences and
/// favourites a gallery test needs; far faster than running the queue for each.
/// </summary>
public sealed class GalleryRows(IServiceProvider services)
{
    public async Task<StoredImage> AddOutputAsync(
        JobActor owner,
        string prompt,
        DateTime createdUtc,
        string model = QueueHost.ModelId,
        bool? commercialUse = true,
        bool favourite = false,
        bool withFile = false,
        int width = 64,
        int height = 64,
        Action<Job>? job = null)
    {
        var jobRow = new Job
        {
            Id = Guid.NewGuid(),
            OwnerId = owner.UserId,
            BatchId = Guid.NewGuid(),
            Settings = new GenerationSettings { ModelId = model, Prompt = prompt, Seed = 7 },
            ResolvedWidth = width,
            ResolvedHeight = height,
            ResolvedSteps = 4,
            TotalSteps = 4,
            Step = 4,
            State = JobState.Succeeded,
            EnqueuedUtc = createdUtc.AddSeconds(-3),
            StartedUtc = createdUtc.AddSeconds(-2),
            FinishedUtc = createdUtc,
            GpuSeconds = 1.5,
            Attempts = 1,
        };
        job?.Invoke(jobRow);

        var image = new StoredImage
        {
            Id = Guid.NewGuid(),
            OwnerId = owner.UserId,
            Kind = StoredImageKind.Output,
            JobId = jobRow.Id,
            ModelId = model,
            LicenceId = commercialUse switch { true => "Apache-2.0", false => "FLUX-Non-Commercial", null => null },
            CommercialUse = commercialUse,
            Seed = jobRow.Settings.Seed,
            Prompt = prompt,
            Width = width,
            Height = height,
            RelativePath = $"images/test/{Guid.NewGuid():N}.png",
            ContentType = "image/png",
            Sha256 = new string('a', 64),
            SafetyVerdict = "Allowed",
            WatermarkSerial = 42,
            Favourite = favourite,
        };
        if (withFile)
        {
            using var picture = new Image<Rgb24>(width, height, new Rgb24(200, 40, 90));
            using var png = new MemoryStream();
            await picture.SaveAsPngAsync(png);
            await services.GetRequiredService<ImageStore>().WriteOutputFileAsync(image, jobRow.Id, jobRow.Epoch, png.ToArray(), width, height);
        }

        image.CreatedUtc = createdUtc;
        jobRow.OutputImageId = image.Id;
        await using var db = await services.GetRequiredService<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();
        db.Jobs.Add(jobRow);
        db.Images.Add(image);
        await db.SaveChangesAsync();
        return image;
    }

    /// <summary>A job that produced no image (failed, cancelled, or still waiting): prompt history counts it too.</summary>
    public async Task<Job> AddJobAsync(JobActor owner, string prompt, DateTime enqueuedUtc, string model = QueueHost.ModelId, JobState state = JobState.Failed)
    {
        var job = new Job
        {
            Id = Guid.NewGuid(),
            OwnerId = owner.UserId,
            BatchId = Guid.NewGuid(),
            Settings = new GenerationSettings { ModelId = model, Prompt = prompt, Seed = 1 },
            ResolvedWidth = 64,
            ResolvedHeight = 64,
            ResolvedSteps = 4,
            TotalSteps = 4,
            State = state,
            EnqueuedUtc = enqueuedUtc,
            FinishedUtc = state.IsFinished() ? enqueuedUtc.AddSeconds(1) : null,
            Error = state == JobState.Failed ? "The engine failed." : null,
        };
        await using var db = await services.GetRequiredService<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();
        db.Jobs.Add(job);
        await db.SaveChangesAsync();
        return job;
    }
}
