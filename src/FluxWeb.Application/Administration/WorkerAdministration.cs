using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Audit;

namespace FluxWeb.Application.Administration;

/// <summary>
/// The cluster's queue workers for administrators (<c>/admin/workers</c>): what each does, and draining
/// (finish the current job, take no more) or resuming one, audited like every admin change. Each call checks
/// that the actor is an administrator now.
/// </summary>
public sealed class WorkerAdministration(IWorkerDirectory directory, AdminAuthorization admins, AuditLog audit)
{
    public async Task<IReadOnlyList<WorkerStatus>> ListAsync(ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        return await directory.ListAsync(cancellationToken);
    }

    /// <summary>False when no live worker has that id (it stopped meanwhile); nothing is audited then.</summary>
    public async Task<bool> SetDrainingAsync(ChangeActor actor, string workerId, bool draining, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        if (!await directory.SetDrainingAsync(workerId, draining, cancellationToken))
        {
            return false;
        }

        await audit.RecordAsync(new AuditEntry(AuditActions.AdminChange, actor.UserId)
        {
            Detail = draining ? $"Drained worker {workerId}: it finishes its current job and takes no more." : $"Resumed worker {workerId}.",
            Channel = actor.Channel,
        }, cancellationToken);
        return true;
    }
}
