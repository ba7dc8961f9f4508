using FluxWeb.Domain.Jobs;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Jobs;

/// <summary>
/// Expected GPU-seconds of a job, from the last measured jobs on the same model scaled by
/// pixels × steps. Used to hold GPU quota while a job waits and to forecast queue positions;
/// users are always charged the measured time. Zero when the model has no history yet.
/// </summary>
public sealed class GpuCostEstimator(IDbContextFactory<FluxWebDbContext> contexts)
{
    private const int Sample = 20;

    public async Task<double> EstimateAsync(string modelId, ResolvedGeneration resolved, CancellationToken cancellationToken = default) =>
        await SecondsPerUnitAsync(modelId, cancellationToken) is { } secondsPerUnit ? secondsPerUnit * resolved.Width * resolved.Height * resolved.Steps : 0;

    /// <summary>Measured GPU-seconds per pixel × step of the model's last jobs; null when it has no history yet.</summary>
    public async Task<double?> SecondsPerUnitAsync(string modelId, CancellationToken cancellationToken = default)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var recent = await db.Jobs.AsNoTracking()
            .Where(j => j.State == JobState.Succeeded && j.Settings.ModelId == modelId && j.GpuSeconds > 0)
            .OrderByDescending(j => j.FinishedUtc)
            .Take(Sample)
            .Select(j => new { j.GpuSeconds, Work = (double)j.ResolvedWidth * j.ResolvedHeight * j.ResolvedSteps })
            .ToListAsync(cancellationToken);
        var measured = recent.Where(r => r.Work > 0).ToList();
        return measured.Count == 0 ? null : measured.Average(r => r.GpuSeconds / r.Work);
    }
}
