using FluxWeb.Persistence.Accounts;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace FluxWeb.Persistence.Boards;

/// <summary>
/// A prepared ZIP download, kept for its user for a few minutes between the POST that checked it and the GET that
/// streams it. A row, not process memory: with several web nodes behind a proxy the GET may reach another node, and
/// a restart between the two must not turn a valid link into a 404.
/// </summary>
public sealed class ExportTicketRow
{
    public Guid Id { get; init; }

    public required string UserId { get; init; }

    /// <summary>Whether the user was an administrator when it was prepared (the GET also requires it now).</summary>
    public bool IsAdmin { get; init; }

    /// <summary>What to download (the images, or the listing's filter and source), as JSON written by the application.</summary>
    public required string Selection { get; init; }

    /// <summary>
    /// The images whose licence refusal was recorded in the audit log when it was prepared (a JSON array of ids): the
    /// GET that finds them refused again does not record the same attempt twice.
    /// </summary>
    public string RefusalsRecorded { get; init; } = "[]";

    public DateTime ExpiresUtc { get; init; }
}

internal static class ExportTicketModel
{
    private static readonly ValueConverter<DateTime, DateTime> Utc = new(v => v.ToUniversalTime(), v => DateTime.SpecifyKind(v, DateTimeKind.Utc));

    public static void Configure(ModelBuilder builder) =>
        builder.Entity<ExportTicketRow>(ticket =>
        {
            ticket.ToTable("ExportTickets");
            ticket.HasKey(t => t.Id);
            ticket.Property(t => t.UserId).HasMaxLength(450);
            // A deleted account's pending downloads go with it.
            ticket.HasOne<FluxUser>().WithMany().HasForeignKey(t => t.UserId).OnDelete(DeleteBehavior.Cascade);
            ticket.Property(t => t.ExpiresUtc).HasConversion(Utc);
            // Tickets prepared before the column existed recorded nothing of the kind.
            ticket.Property(t => t.RefusalsRecorded).HasDefaultValue("[]");
            ticket.HasIndex(t => new { t.UserId, t.ExpiresUtc });
            ticket.HasIndex(t => t.ExpiresUtc);
        });
}
