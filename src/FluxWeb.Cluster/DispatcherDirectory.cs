using System.Diagnostics.CodeAnalysis;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Cluster;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Orleans.GrainDirectory;
using Orleans.Metadata;
using Orleans.Runtime.GrainDirectory;

namespace FluxWeb.Cluster;

/// <summary>
/// Where the job dispatcher's one activation lives when several processes share the cluster (PostgreSQL membership):
/// a row of <see cref="ClusterDirectoryEntry"/> in the shared database, so registering a second activation is
/// impossible, not merely unlikely. Orleans' default directory is a hash table spread over the silos that a joining
/// silo takes its part of by a handoff; until the handoff arrives it can activate a second dispatcher, and with it
/// jobs waited and live events went to a dispatcher that knew only some processes (docs/decisions/0024 and 0025).
/// Orleans' <c>CachedGrainLocator</c> drives this directory: it caches lookups, and before trusting an entry checks
/// its silo against the membership, removing the entry of a silo that died so the next call activates anew.
/// </summary>
internal sealed class DispatcherDirectory(IDbContextFactory<FluxWebDbContext> contexts, IOptions<ClusterSettings> cluster) : IGrainDirectory
{
    private string ClusterId => cluster.Value.ClusterId;

    /// <summary>Registers <paramref name="address"/> unless another activation is registered; returns the one that is.</summary>
    public async Task<GrainAddress?> Register(GrainAddress address)
    {
        var grainId = address.GrainId.ToString();
        await using var db = await contexts.CreateDbContextAsync();
        // Quoted names and ON CONFLICT read the same on SQLite and PostgreSQL; the key decides between two silos.
        await db.Database.ExecuteSqlInterpolatedAsync(
            $"""INSERT INTO "ClusterDirectory" ("ClusterId", "GrainId", "SiloAddress", "ActivationId", "MembershipVersion") VALUES ({ClusterId}, {grainId}, {address.SiloAddress!.ToParsableString()}, {address.ActivationId.ToParsableString()}, {address.MembershipVersion.Value}) ON CONFLICT ("ClusterId", "GrainId") DO NOTHING""");
        return await LookupAsync(db, grainId);
    }

    /// <summary>Replaces <paramref name="previousAddress"/> with <paramref name="address"/> in one conditional step (no moment without an entry for another silo to fill).</summary>
    public async Task<GrainAddress?> Register(GrainAddress address, GrainAddress? previousAddress)
    {
        if (previousAddress is null)
        {
            return await Register(address);
        }

        var grainId = address.GrainId.ToString();
        var previousActivation = previousAddress.ActivationId.ToParsableString();
        await using var db = await contexts.CreateDbContextAsync();
        var replaced = await db.ClusterDirectory
            .Where(e => e.ClusterId == ClusterId && e.GrainId == grainId && e.ActivationId == previousActivation)
            .ExecuteUpdateAsync(set => set
                .SetProperty(e => e.SiloAddress, address.SiloAddress!.ToParsableString())
                .SetProperty(e => e.ActivationId, address.ActivationId.ToParsableString())
                .SetProperty(e => e.MembershipVersion, address.MembershipVersion.Value));
        return replaced == 1 ? await LookupAsync(db, grainId) : await Register(address);
    }

    /// <summary>Removes the entry only while it still names this activation: a newer one is never removed by an older one's end.</summary>
    public async Task Unregister(GrainAddress address)
    {
        var grainId = address.GrainId.ToString();
        var activation = address.ActivationId.ToParsableString();
        await using var db = await contexts.CreateDbContextAsync();
        await db.ClusterDirectory
            .Where(e => e.ClusterId == ClusterId && e.GrainId == grainId && e.ActivationId == activation)
            .ExecuteDeleteAsync();
    }

    public async Task<GrainAddress?> Lookup(GrainId grainId)
    {
        await using var db = await contexts.CreateDbContextAsync();
        return await LookupAsync(db, grainId.ToString());
    }

    /// <summary>The cluster declared these silos dead: their activations are gone.</summary>
    public async Task UnregisterSilos(List<SiloAddress> siloAddresses)
    {
        var silos = siloAddresses.Select(s => s.ToParsableString()).ToList();
        await using var db = await contexts.CreateDbContextAsync();
        await db.ClusterDirectory.Where(e => e.ClusterId == ClusterId && silos.Contains(e.SiloAddress)).ExecuteDeleteAsync();
    }

    private async Task<GrainAddress?> LookupAsync(FluxWebDbContext db, string grainId)
    {
        var entry = await db.ClusterDirectory.AsNoTracking().SingleOrDefaultAsync(e => e.ClusterId == ClusterId && e.GrainId == grainId);
        return entry is null ? null : new GrainAddress
        {
            GrainId = GrainId.Parse(entry.GrainId),
            SiloAddress = SiloAddress.FromParsableString(entry.SiloAddress),
            ActivationId = ActivationId.FromParsableString(entry.ActivationId),
            MembershipVersion = new MembershipVersion(entry.MembershipVersion),
        };
    }
}

/// <summary>
/// Puts the dispatcher grain, and only it, in <see cref="DispatcherDirectory"/> when the processes share a cluster.
/// A process that is a cluster of its own (SQLite: the single box, and each command run beside it on the same file)
/// keeps Orleans' directory: with one silo there is nothing to race, and its database rows would be another
/// cluster's to read.
/// </summary>
internal sealed class DispatcherDirectoryResolver(ResolvedCluster resolved, DispatcherDirectory directory) : IGrainDirectoryResolver
{
    public bool TryResolveGrainDirectory(GrainType grainType, GrainProperties? properties, [NotNullWhen(true)] out IGrainDirectory? grainDirectory)
    {
        grainDirectory = resolved.Shared && grainType.Equals(JobDispatcherGrain.DispatcherType) ? directory : null;
        return grainDirectory is not null;
    }
}
