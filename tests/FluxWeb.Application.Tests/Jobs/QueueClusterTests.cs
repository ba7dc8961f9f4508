using System.Collections.Concurrent;
using System.Net;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Jobs;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace FluxWeb.Application.Tests.Jobs;

/// <summary>
/// The topologies the queue scenarios run on are what they say they are: were the three silos quietly one (or three
/// clusters of one), every scenario would still pass on them and prove nothing about the cluster.
/// </summary>
public sealed class QueueClusterTests : IDisposable
{
    private readonly TempFolder folder = new("fluxweb-topology");

    public void Dispose() => folder.Dispose();

    [Theory]
    [QueueTopologies]
    public async Task A_job_submitted_on_the_submitter_runs_on_the_workers_silo_and_its_events_reach_the_subscriber(QueueTopology topology)
    {
        await using var cluster = await QueueCluster.StartAsync(topology, folder.Path, new FakeImageGenerator());
        var silos = new[] { cluster.Submitter, cluster.Subscriber, cluster.Worker }.Distinct().ToList();
        var expected = topology == QueueTopology.SqliteOneSilo ? 1 : 3;

        Assert.Equal(expected, silos.Count);
        Assert.Single(silos.Select(s => s.Services.GetRequiredService<IOptions<Orleans.Configuration.ClusterOptions>>().Value.ClusterId).Distinct());
        Assert.All(silos, s => Assert.Equal(expected, s.Services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active)));
        Assert.Equal(expected, silos.Select(s => s.Services.GetRequiredService<IWorkerNode>().NodeId).Distinct().Count());
        Assert.All(silos.Where(s => s != cluster.Worker), s => Assert.Null(s.Services.GetService<JobWorkers>()));
        // Silos that tell each other a loopback address are all on this machine: nothing else may reach their ports.
        Assert.All(silos.Select(s => s.Services.GetRequiredService<IOptions<Orleans.Configuration.EndpointOptions>>().Value), endpoints =>
        {
            Assert.Equal(IPAddress.Loopback, endpoints.AdvertisedIPAddress);
            Assert.Equal(IPAddress.Loopback, endpoints.SiloListeningEndpoint?.Address);
            Assert.Equal(IPAddress.Loopback, endpoints.GatewayListeningEndpoint?.Address);
        });
        var workerNode = cluster.Worker.Services.GetRequiredService<IWorkerNode>().NodeId;

        var ada = await cluster.CreateUserAsync("ada@example.com");
        var seen = new ConcurrentQueue<JobEvent>();
        using var subscription = cluster.Events.Subscribe(ada, seen.Enqueue);
        var id = (await cluster.Generation.SubmitAsync(ada.UserId, QueueHost.Request("where does it run"))).JobIds.Single();
        var job = await cluster.WaitForEndAsync(id);

        Assert.Equal(JobState.Succeeded, job.State);
        Assert.StartsWith(workerNode + "/", job.WorkerId, StringComparison.Ordinal);
        await Eventually.Until(() => seen.Any(e => e.JobId == id && e.Kind == JobEventKind.Succeeded), () => $"Seen: {string.Join(", ", seen.Select(e => e.Kind))}");
    }

    [Fact]
    public async Task A_restart_on_the_same_folder_rejoins_the_same_cluster_on_the_same_database()
    {
        string clusterId;
        string database;
        await using (var first = await QueueCluster.StartAsync(QueueTopology.PostgreSqlThreeSilos, folder.Path, new FakeImageGenerator()))
        {
            (clusterId, database) = await IdentityAsync(first);
        }

        await using var second = await QueueCluster.StartAsync(QueueTopology.PostgreSqlThreeSilos, folder.Path, new FakeImageGenerator());

        Assert.Equal((clusterId, database), await IdentityAsync(second));
        Assert.StartsWith("test-", clusterId, StringComparison.Ordinal);
    }

    private static async Task<(string ClusterId, string Database)> IdentityAsync(QueueCluster cluster) =>
        (cluster.Worker.Services.GetRequiredService<IOptions<Orleans.Configuration.ClusterOptions>>().Value.ClusterId,
         await cluster.WithDbAsync(db => Task.FromResult(db.Database.GetDbConnection().Database)));
}
