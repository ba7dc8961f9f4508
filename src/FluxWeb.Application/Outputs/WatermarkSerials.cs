using FluxWeb.Application.Licensing;
using FluxWeb.Domain.Time;
using FluxWeb.Inference.Packages;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Images;
using FluxWeb.Provenance.Watermarking;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Outputs;

/// <summary>What a watermark serial was issued for: the job and the licence of the model that made its image.</summary>
public sealed record SerialTrace(long Serial, Guid? JobId, string? OwnerId, ModelLicenceFacts Model);

/// <summary>
/// Hands out the image serials the watermark carries (1 … 2²⁸−1, wrapping; 0 means "made outside
/// the queue") and remembers what each was issued for, so <c>fluxweb verify</c>, "Check an image"
/// and the upload check trace a file to its job and licence, also after the image was deleted.
/// The counter lives in the database, not in a process: the web app and <c>fluxweb generate
/// --user</c> on the same data folder each run a worker, and both must draw from one sequence.
/// </summary>
public sealed class WatermarkSerials(IDbContextFactory<FluxWebDbContext> contexts, AppClock time)
{
    /// <summary>The next serial, recorded with the job and the model's licence in the same transaction.</summary>
    public async Task<long> IssueAsync(Guid jobId, string ownerId, ModelPackageManifest model, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // The increment is the transaction's first statement: it takes the database's write lock before the
        // value is read, so no other process can draw the same number in between.
        var counted = await db.Counters.Where(c => c.Name == Counter.WatermarkSerial)
            .ExecuteUpdateAsync(set => set.SetProperty(c => c.Value, c => c.Value % WatermarkPayload.MaxSerial + 1), cancellationToken);
        if (counted == 0)
        {
            // A database the migration did not seed (created by hand): start above what the images carry.
            var highest = await db.Images.MaxAsync(i => i.WatermarkSerial, cancellationToken) ?? 0;
            db.Counters.Add(new Counter { Name = Counter.WatermarkSerial, Value = highest % WatermarkPayload.MaxSerial + 1 });
            await db.SaveChangesAsync(cancellationToken);
        }

        var serial = await db.Counters.Where(c => c.Name == Counter.WatermarkSerial).Select(c => c.Value).SingleAsync(cancellationToken);
        db.IssuedSerials.Add(new IssuedSerial
        {
            Serial = serial,
            JobId = jobId,
            OwnerId = ownerId,
            ModelId = model.Id,
            LicenceId = model.Licence?.Id,
            CommercialUse = model.Licence?.CommercialUse,
            IssuedUtc = time.GetUtcNow().UtcDateTime,
        });
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return serial;
    }

    /// <summary>What the newest issue of <paramref name="serial"/> was for (serials wrap after 268 million images); null for 0 or unknown serials.</summary>
    public async Task<SerialTrace?> TraceAsync(long serial, CancellationToken cancellationToken = default)
    {
        if (serial <= 0)
        {
            return null;
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var issued = await db.IssuedSerials.AsNoTracking().Where(s => s.Serial == serial).OrderByDescending(s => s.Id).FirstOrDefaultAsync(cancellationToken);
        return issued is null ? null
            : new SerialTrace(issued.Serial, issued.JobId, issued.OwnerId, new ModelLicenceFacts(issued.ModelId, issued.LicenceId ?? "unknown", issued.CommercialUse == true));
    }

    /// <summary>The job an image serial belongs to.</summary>
    public async Task<Guid?> FindJobAsync(long serial, CancellationToken cancellationToken = default) =>
        (await TraceAsync(serial, cancellationToken))?.JobId;
}
