using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Persistence.Cluster;

/// <summary>
/// Where the one activation of a cluster-wide singleton grain lives (the job dispatcher), for a cluster whose
/// processes share the database (docs/decisions/0025). One row per grain and cluster: the key makes a second
/// activation impossible, which Orleans' own directory does not guarantee while a process joins.
/// </summary>
public sealed class ClusterDirectoryEntry
{
    /// <summary>Orleans' cluster id (<c>Cluster:ClusterId</c>): several clusters may share one database.</summary>
    public required string ClusterId { get; init; }

    /// <summary>The grain, as Orleans writes its id.</summary>
    public required string GrainId { get; init; }

    /// <summary>The silo that holds the activation (address, port and generation).</summary>
    public required string SiloAddress { get; set; }

    public required string ActivationId { get; set; }

    /// <summary>The cluster membership version the activation was registered under (Orleans' test for a stale entry).</summary>
    public long MembershipVersion { get; set; }
}

internal static class ClusterDirectoryModel
{
    public static void Configure(ModelBuilder builder) =>
        builder.Entity<ClusterDirectoryEntry>(entry =>
        {
            entry.ToTable("ClusterDirectory");
            entry.HasKey(e => new { e.ClusterId, e.GrainId });
            entry.Property(e => e.ClusterId).HasMaxLength(200);
            entry.Property(e => e.GrainId).HasMaxLength(400);
            entry.Property(e => e.SiloAddress).HasMaxLength(200);
            entry.Property(e => e.ActivationId).HasMaxLength(100);
        });
}
