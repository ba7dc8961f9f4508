using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Application.Administration;

/// <summary>A job on the admin queue page: the owner's view plus who owns it.</summary>
public sealed record QueueEntry(JobView Job, string OwnerEmail);

/// <summary>
/// Every user's jobs for administrators, and cancelling any of them (through <see cref="JobService"/>,
/// which owns cancellation). Each call checks that the actor is an administrator now.
/// </summary>
public sealed class QueueOverview(IDbContextFactory<FluxWebDbContext> contexts, LiveJobBoard board, JobService jobs, AdminAuthorization admins, AuditLog audit)
{
    public const int MaxListed = 500;

    /// <summary>Running jobs, then waiting ones in queue order, then the <paramref name="finished"/> most recently finished.</summary>
    public async Task<IReadOnlyList<QueueEntry>> ListAsync(ChangeActor actor, int finished = 50, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var active = await db.Jobs.AsNoTracking()
            .Where(j => j.State == JobState.Queued || j.State == JobState.Running)
            .OrderBy(j => j.EnqueuedUtc).ThenBy(j => j.BatchIndex)
            .Take(MaxListed)
            .Select(j => new { Job = j, Email = db.Users.Where(u => u.Id == j.OwnerId).Select(u => u.Email).FirstOrDefault() })
            .ToListAsync(cancellationToken);
        var done = await db.Jobs.AsNoTracking()
            .Where(j => j.State != JobState.Queued && j.State != JobState.Running)
            .OrderByDescending(j => j.FinishedUtc)
            .Take(Math.Clamp(finished, 0, MaxListed))
            .Select(j => new { Job = j, Email = db.Users.Where(u => u.Id == j.OwnerId).Select(u => u.Email).FirstOrDefault() })
            .ToListAsync(cancellationToken);
        var entries = active.Concat(done).Select(r => new QueueEntry(JobView.From(r.Job, board), r.Email ?? r.Job.OwnerId)).ToList();
        return
        [
            .. entries.Where(e => e.Job.State == JobState.Running),
            .. entries.Where(e => e.Job.State == JobState.Queued).OrderBy(e => e.Job.QueuePosition ?? int.MaxValue),
            .. entries.Where(e => e.Job.State.IsFinished()),
        ];
    }

    public async Task<CancelOutcome> CancelAsync(ChangeActor actor, Guid jobId, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        var adminId = actor.UserId;
        var outcome = await jobs.CancelAsync(new JobActor(adminId ?? "", IsAdmin: true), jobId, cancellationToken);
        if (outcome is CancelOutcome.Cancelled or CancelOutcome.Stopping)
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            var owner = await db.Jobs.Where(j => j.Id == jobId).Select(j => new { j.OwnerId, j.Settings.ModelId }).SingleAsync(cancellationToken);
            await audit.RecordAsync(new AuditEntry(AuditActions.AdminChange, adminId)
            {
                JobId = jobId,
                TargetUserId = owner.OwnerId,
                ModelId = owner.ModelId,
                Detail = outcome == CancelOutcome.Cancelled ? "Cancelled a waiting job." : "Stopped a running job.",
                Channel = actor.Channel,
            }, cancellationToken);
        }

        return outcome;
    }
}
