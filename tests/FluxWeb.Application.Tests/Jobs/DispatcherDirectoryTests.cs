using System.Net;
using FluxWeb.Application.Jobs;
using FluxWeb.Cluster;
using FluxWeb.Persistence;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans;

namespace FluxWeb.Application.Tests.Jobs;

/// <summary>
/// The dispatcher's directory on the shared PostgreSQL database (docs/decisions/0025): one activation per cluster, decided
/// by the row's key, never replaced or removed by an activation that is not the one registered.
/// </summary>
public sealed class DispatcherDirectoryTests : IAsyncLifetime
{
    private static readonly GrainId Dispatcher = GrainId.Create(JobDispatcherGrain.TypeName, "0");

    private readonly TempFolder folder = new("fluxweb-directory");
    private IDbContextFactory<FluxWebDbContext> contexts = default!;

    public async Task InitializeAsync() => contexts = await PostgreSqlTestDatabase.ContextsForAsync(Path.Combine(folder.Path, "data"));

    public Task DisposeAsync()
    {
        folder.Dispose();
        return Task.CompletedTask;
    }

    private DispatcherDirectory DirectoryOf(string clusterId = "cluster-a") =>
        new(contexts, Options.Create(new ClusterSettings { ClusterId = clusterId }));

    private static GrainAddress Activation(int siloPort, long membershipVersion = 3) => new()
    {
        GrainId = Dispatcher,
        SiloAddress = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, siloPort), 1),
        ActivationId = ActivationId.NewId(),
        MembershipVersion = new MembershipVersion(membershipVersion),
    };

    [Fact]
    public async Task The_first_activation_registered_wins_and_a_second_silo_is_told_where_it_is()
    {
        var directory = DirectoryOf();
        var first = Activation(11111);
        var second = Activation(11112, membershipVersion: 4);

        Assert.Equal(first, await directory.Register(first));
        Assert.Equal(first, await directory.Register(second));
        Assert.Equal(first, await directory.Lookup(Dispatcher));
        var stored = await directory.Lookup(Dispatcher);
        Assert.Equal(first.SiloAddress, stored!.SiloAddress);
        Assert.Equal(3, stored.MembershipVersion.Value);
    }

    [Fact]
    public async Task Two_silos_registering_at_once_get_the_same_answer()
    {
        var directory = DirectoryOf();
        var candidates = Enumerable.Range(0, 8).Select(i => Activation(12000 + i)).ToList();

        var answers = await Task.WhenAll(candidates.Select(c => Task.Run(() => directory.Register(c))));

        Assert.Single(answers.Distinct());
        Assert.Contains(answers[0], candidates);
        Assert.Equal(answers[0], await directory.Lookup(Dispatcher));
    }

    [Fact]
    public async Task An_activation_that_lost_cannot_remove_the_one_that_won_and_the_winners_end_frees_the_place()
    {
        var directory = DirectoryOf();
        var winner = Activation(11111);
        var loser = Activation(11112);
        await directory.Register(winner);
        await directory.Register(loser);

        await directory.Unregister(loser);
        Assert.Equal(winner, await directory.Lookup(Dispatcher));

        await directory.Unregister(winner);
        Assert.Null(await directory.Lookup(Dispatcher));
        Assert.Equal(loser, await directory.Register(loser));
    }

    [Fact]
    public async Task An_entry_is_replaced_only_by_naming_the_activation_it_holds()
    {
        var directory = DirectoryOf();
        var registered = Activation(11111);
        var stale = Activation(11112);
        var next = Activation(11113);
        await directory.Register(registered);

        Assert.Equal(registered, await directory.Register(next, previousAddress: stale));
        Assert.Equal(next, await directory.Register(next, previousAddress: registered));
        Assert.Equal(next, await directory.Lookup(Dispatcher));
    }

    [Fact]
    public async Task Silos_declared_dead_lose_their_entries_in_this_cluster_only()
    {
        var here = DirectoryOf("cluster-a");
        var there = DirectoryOf("cluster-b");
        var dead = Activation(11111);
        var elsewhere = Activation(11111);
        await here.Register(dead);
        await there.Register(elsewhere);

        await here.UnregisterSilos([dead.SiloAddress!, SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 9), 1)]);

        Assert.Null(await here.Lookup(Dispatcher));
        Assert.Equal(elsewhere, await there.Lookup(Dispatcher));
    }

    [Fact]
    public async Task Processes_joining_one_after_another_find_the_one_dispatcher_and_start_no_second()
    {
        // Each newcomer reports to the dispatcher as soon as its silo is up: with Orleans' own directory, that is when a
        // joining silo could activate a second one before the handoff of its part of the directory reached it.
        var clusterId = $"test-{Guid.NewGuid():N}";
        var settings = new Dictionary<string, string?>
        {
            ["Cluster:Membership"] = "Database",
            ["Cluster:AdvertisedAddress"] = "127.0.0.1",
            ["Cluster:ClusterId"] = clusterId,
        };
        var logs = new CapturingLoggerProvider();
        var silos = new List<QueueHost>();
        try
        {
            for (var i = 0; i < 5; i++)
            {
                silos.Add(await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), settings, worker: true, database: TestDatabaseProvider.PostgreSql, logs: logs, silo: true));
                var workers = await silos[^1].Services.GetRequiredService<IGrainFactory>().GetGrain<IJobDispatcherGrain>(0).Workers();
                Assert.Equal(silos.Count, workers.Count(w => w.State != (int)WorkerState.Dead));
            }

            Assert.Single(logs.Lines, l => l.Contains("The job dispatcher is active", StringComparison.Ordinal));
            await using var db = await contexts.CreateDbContextAsync();
            Assert.Equal(1, await db.ClusterDirectory.CountAsync(e => e.ClusterId == clusterId));
        }
        finally
        {
            for (var i = silos.Count - 1; i >= 0; i--)
            {
                await silos[i].DisposeAsync();
            }
        }
    }
}
