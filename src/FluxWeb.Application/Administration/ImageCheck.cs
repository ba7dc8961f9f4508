using FluxWeb.Application.Audit;
using FluxWeb.Application.Outputs;
using FluxWeb.Persistence;
using FluxWeb.Provenance.Inspection;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Administration;

/// <summary>The job a watermark traced a file to, with what the server knows about it.</summary>
public sealed record TracedJob(Guid JobId, string OwnerEmail, string ModelId, string Prompt, ulong Seed, DateTime EnqueuedUtc, Guid? OutputImageId);

public sealed record ImageCheckResult(ProvenanceReport Report, TracedJob? Job);

/// <summary>
/// "Check an image" for administrators: C2PA on the exact bytes and the watermark on the safely
/// decoded pixels (<see cref="ProvenanceInspector"/>, the same as <c>fluxweb verify</c>), then the
/// job the watermark's serial belongs to, if it was made here.
/// </summary>
public sealed class ImageCheck(ProvenanceInspector inspector, WatermarkSerials serials, IDbContextFactory<FluxWebDbContext> contexts, AdminAuthorization admins)
{
    /// <exception cref="FluxWeb.Provenance.Decoding.UnsafeImageException">The file is over the upload caps.</exception>
    public async Task<ImageCheckResult> CheckAsync(ChangeActor actor, Stream file, string? fileName, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        var report = await inspector.InspectAsync(file, fileName, cancellationToken);
        if (report.Watermark is not { Present: true, FromThisInstallation: true, Serial: { } serial }
            || await serials.FindJobAsync(serial, cancellationToken) is not { } jobId)
        {
            return new ImageCheckResult(report, null);
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var job = await db.Jobs.AsNoTracking().Where(j => j.Id == jobId)
            .Select(j => new { j.Id, Email = db.Users.Where(u => u.Id == j.OwnerId).Select(u => u.Email).FirstOrDefault(), j.Settings.ModelId, j.Settings.Prompt, j.Settings.Seed, j.EnqueuedUtc, j.OutputImageId })
            .SingleOrDefaultAsync(cancellationToken);
        var traced = job is null ? null : new TracedJob(job.Id, job.Email ?? "", job.ModelId, job.Prompt, job.Seed.GetValueOrDefault(), job.EnqueuedUtc, job.OutputImageId);
        return new ImageCheckResult(report with { Job = jobId.ToString() }, traced);
    }
}
