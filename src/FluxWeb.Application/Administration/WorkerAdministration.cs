using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Audit;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Administration;

/// <summary>
/// The cluster's queue workers for administrators (<c>/admin/workers</c>): what each does, and draining
/// (finish the current job, take no more) or resuming one, audited like every admin change. Each call checks
/// that the actor is an administrator now. When the cluster's dispatcher does not answer, both throw
/// <see cref="WorkersUnavailableException"/> with what to expect, never the cluster's own exception.
/// </summary>
public sealed partial class WorkerAdministration(IWorkerDirectory directory, AdminAuthorization admins, AuditLog audit, ILogger<WorkerAdministration> logger)
{
    public async Task<IReadOnlyList<WorkerStatus>> ListAsync(ChangeActor actor, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        return await AskAsync(() => directory.ListAsync(cancellationToken), cancellationToken);
    }

    /// <summary>False when no live worker has that id (it stopped meanwhile); nothing is audited then.</summary>
    public async Task<bool> SetDrainingAsync(ChangeActor actor, string workerId, bool draining, CancellationToken cancellationToken = default)
    {
        await admins.EnsureAsync(actor, cancellationToken);
        if (!await AskAsync(() => directory.SetDrainingAsync(workerId, draining, cancellationToken), cancellationToken))
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

    /// <summary>
    /// The dispatcher lives in one process of the cluster: while it moves to another (the one it lived on stopped) or
    /// while its process hangs, a call to it fails or times out (after a few seconds, not Orleans' half minute).
    /// </summary>
    private async Task<T> AskAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call();
        }
        catch (Exception ex) when (ex is not WorkersUnavailableException && !(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
        {
            LogUnavailable(logger, ex);
            throw new WorkersUnavailableException(
                "The cluster's dispatcher did not answer. It may be moving to another process after the one it ran in stopped (a few seconds), "
                + "or that process hangs; the workers show again as soon as it answers.", ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The cluster's workers could not be listed or switched: the dispatcher did not answer")]
    private static partial void LogUnavailable(ILogger logger, Exception exception);
}
