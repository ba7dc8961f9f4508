using FluxWeb.Domain.Audit;
using FluxWeb.Domain.Time;
using FluxWeb.Persistence;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Application.Audit;

/// <summary>The details of one audit entry; the time and the actor's e-mail are filled in by <see cref="AuditLog"/>.</summary>
public sealed record AuditEntry(string Action, string? ActorId)
{
    public bool Succeeded { get; init; } = true;

    public string? TargetUserId { get; init; }

    public string? ModelId { get; init; }

    public Guid? ImageId { get; init; }

    public Guid? JobId { get; init; }

    public string? Detail { get; init; }

    public string? Channel { get; init; }

    /// <summary>For actions without a signed-in user (a failed sign-in): the e-mail that was tried.</summary>
    public string? ActorEmail { get; init; }

    /// <summary>The target's e-mail when it can no longer be looked up (the account was just deleted).</summary>
    public string? TargetEmail { get; init; }
}

/// <summary>
/// Writes the audit trail. A failure to write is logged, never thrown: auditing must not turn a
/// download or a refusal into a server error.
/// </summary>
public sealed partial class AuditLog(IDbContextFactory<FluxWebDbContext> contexts, AppClock time, ILogger<AuditLog> logger)
{
    public async Task RecordAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            var email = entry.ActorEmail;
            if (email is null && entry.ActorId is not null)
            {
                email = await db.Users.Where(u => u.Id == entry.ActorId).Select(u => u.Email).SingleOrDefaultAsync(cancellationToken);
            }

            var targetEmail = entry.TargetEmail;
            if (targetEmail is null && entry.TargetUserId is not null)
            {
                targetEmail = entry.TargetUserId == entry.ActorId ? email
                    : await db.Users.Where(u => u.Id == entry.TargetUserId).Select(u => u.Email).SingleOrDefaultAsync(cancellationToken);
            }

            db.AuditEvents.Add(new AuditEvent
            {
                TimeUtc = time.GetUtcNow().UtcDateTime,
                ActorId = entry.ActorId,
                ActorEmail = email,
                Action = entry.Action,
                Succeeded = entry.Succeeded,
                TargetUserId = entry.TargetUserId,
                TargetEmail = targetEmail,
                ModelId = entry.ModelId,
                ImageId = entry.ImageId,
                JobId = entry.JobId,
                Detail = entry.Detail is { Length: > 1000 } long_ ? long_[..1000] : entry.Detail,
                Channel = entry.Channel,
            });
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is DbUpdateException or InvalidOperationException or OperationCanceledException)
        {
            LogWriteFailed(logger, ex, entry.Action);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not write the audit entry for {Action}")]
    private static partial void LogWriteFailed(ILogger logger, Exception exception, string action);
}

/// <summary>
/// Who asks for an administrative read or change: a signed-in person (UI), whose role the admin
/// services check in the database on every call, or the command line (the operator on the server,
/// no user). Only these two factories make one, so a UI caller can never pass for the command line.
/// </summary>
public sealed record ChangeActor
{
    private ChangeActor(string? userId, string channel)
    {
        UserId = userId;
        Channel = channel;
    }

    public static ChangeActor CommandLine { get; } = new(null, "cli");

    public string? UserId { get; }

    public string Channel { get; }

    public bool IsCommandLine => UserId is null;

    public static ChangeActor Ui(string userId)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        return new(userId, "ui");
    }
}
