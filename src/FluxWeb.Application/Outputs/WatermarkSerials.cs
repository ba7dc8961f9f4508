using FluxWeb.Persistence;
using FluxWeb.Provenance.Watermarking;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Outputs;

/// <summary>
/// Hands out the image serials the watermark carries (1 … 2²⁸−1, wrapping; 0 means "made outside
/// the queue"). The serial is stored on the image row, so <c>fluxweb verify</c> can find the job.
/// One process writes outputs, so a lock and the highest stored serial are enough.
/// </summary>
public sealed class WatermarkSerials(IDbContextFactory<FluxWebDbContext> contexts) : IDisposable
{
    private readonly SemaphoreSlim gate = new(1, 1);
    private long? last;

    public async Task<long> NextAsync(CancellationToken cancellationToken = default)
    {
        await gate.WaitAsync(cancellationToken);
        try
        {
            if (last is null)
            {
                await using var db = await contexts.CreateDbContextAsync(cancellationToken);
                last = await db.Images.OrderByDescending(i => i.CreatedUtc).Where(i => i.WatermarkSerial != null).Select(i => i.WatermarkSerial).FirstOrDefaultAsync(cancellationToken) ?? 0;
            }

            last = last % WatermarkPayload.MaxSerial + 1;
            return last.Value;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>The job an image serial belongs to: the newest output carrying it (serials wrap after 268 million images).</summary>
    public async Task<Guid?> FindJobAsync(long serial, CancellationToken cancellationToken = default)
    {
        if (serial <= 0)
        {
            return null;
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.Images.Where(i => i.WatermarkSerial == serial).OrderByDescending(i => i.CreatedUtc).Select(i => i.JobId).FirstOrDefaultAsync(cancellationToken);
    }

    public void Dispose() => gate.Dispose();
}
