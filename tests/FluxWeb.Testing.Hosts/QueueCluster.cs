using System.Diagnostics;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Jobs;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Persistence;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;

namespace FluxWeb.Testing;

/// <summary>The clusters the queue scenarios run on (issue 18): the single box, and a cluster of several processes.</summary>
public enum QueueTopology
{
    /// <summary>One silo with its worker on SQLite: exactly a <see cref="QueueHost"/>, the default deployment.</summary>
    SqliteOneSilo,

    /// <summary>
    /// Three silos of one Orleans cluster on one PostgreSQL database, whose membership is Orleans' ADO.NET table in that
    /// database: silo 1 takes the submissions (web only), silo 2 holds the event subscriptions (web only), silo 3 runs
    /// the one worker. A job therefore reaches another process's worker through the dispatcher, a cancel crosses to it,
    /// and its live events come back to a third process through the relay.
    /// </summary>
    PostgreSqlThreeSilos,
}

/// <summary>
/// A running <see cref="QueueTopology"/> with the surface the queue scenarios use, so one scenario body runs on
/// either. Where a member maps to one silo of three, its comment says which; everything else reads the one database,
/// which every silo shares. <see cref="StartAsync"/> again on the same folder after <see cref="DisposeAsync"/> is a
/// restart of the whole cluster on the same database.
/// </summary>
public sealed class QueueCluster : IAsyncDisposable
{
    private const string ClusterIdFile = "cluster-id.txt";

    private const string LogsFolderVariable = "FLUXWEB_QUEUE_CLUSTER_LOGS";

    /// <summary>The silos in start order: submitter, subscriber, worker (one host that is all three on SQLite).</summary>
    private readonly IReadOnlyList<QueueHost> silos;

    private QueueCluster(QueueTopology topology, IReadOnlyList<QueueHost> silos, CapturingLoggerProvider logs)
    {
        Topology = topology;
        this.silos = silos;
        Logs = logs;
    }

    public QueueTopology Topology { get; }

    /// <summary>The silo that takes submissions and answers the owner's reads and cancels: the web node the user is on.</summary>
    public QueueHost Submitter => silos[0];

    /// <summary>The silo where scenarios subscribe to live events: another web node, e.g. the owner's second tab.</summary>
    public QueueHost Subscriber => silos[Math.Min(1, silos.Count - 1)];

    /// <summary>The silo whose worker runs the jobs (with no worker when the scenario asked for none).</summary>
    public QueueHost Worker => silos[^1];

    /// <summary>The submitter's services (options, stores and readers behave the same on every silo; they share the database and data folder).</summary>
    public IServiceProvider Services => Submitter.Services;

    /// <summary>Every silo's log lines, in one list.</summary>
    public CapturingLoggerProvider Logs { get; }

    /// <summary>Submissions go in on the submitter.</summary>
    public GenerationService Generation => Submitter.Generation;

    /// <summary>Reads, previews and cancels on the submitter: a cancel of a job on another silo's worker must cross to it.</summary>
    public JobService Jobs => Submitter.Jobs;

    /// <summary>Subscriptions on the subscriber: what the worker's silo publishes reaches them only through the relay.</summary>
    public IJobEvents Events => Subscriber.Events;

    /// <summary>
    /// Starts the topology on <paramref name="folder"/>: the same arguments as <see cref="QueueHost.StartAsync"/>, given
    /// to every silo (the scenario's clock too: one cluster, one time), with <paramref name="engine"/> and the worker
    /// (when <paramref name="worker"/>) on the last silo only.
    /// </summary>
    public static async Task<QueueCluster> StartAsync(
        QueueTopology topology,
        string folder,
        IImageGenerator engine,
        IReadOnlyDictionary<string, string?>? settings = null,
        TimeProvider? time = null,
        bool worker = true,
        Action<IServiceCollection>? services = null)
    {
        var logs = new CapturingLoggerProvider();
        if (topology == QueueTopology.SqliteOneSilo)
        {
            var host = await QueueHost.StartAsync(folder, engine, settings, time, worker, services, TestDatabaseProvider.Sqlite, logs);
            return new QueueCluster(topology, [host], logs);
        }

        var clusterSettings = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>())
        {
            ["Cluster:Membership"] = "Database",
            // Loopback and free ports (the PostgreSQL test settings set SiloPort and GatewayPort to 0): test runs side
            // by side; the cluster id of this data folder keeps this test's silos from meeting another test's.
            ["Cluster:AdvertisedAddress"] = "127.0.0.1",
            ["Cluster:ClusterId"] = ClusterIdOf(folder),
        };
        var started = new List<QueueHost>();
        try
        {
            // One after another: the first silo creates the test's database (the others find it through the data
            // folder) and a bad setting fails its start alone. Joining one at a time is also quicker: measured under
            // load, silos 2 and 3 took 0.6 s one after the other and 1.4 s together (they contend for the table's version).
            started.Add(await QueueHost.StartAsync(folder, engine, clusterSettings, time, worker: false, services, TestDatabaseProvider.PostgreSql, logs, silo: true));
            started.Add(await QueueHost.StartAsync(folder, engine, clusterSettings, time, worker: false, services, TestDatabaseProvider.PostgreSql, logs, silo: true));
            started.Add(await QueueHost.StartAsync(folder, engine, clusterSettings, time, worker, services, TestDatabaseProvider.PostgreSql, logs, silo: true));
            var cluster = new QueueCluster(topology, started, logs);
            await cluster.WaitUntilFormedAsync();
            return cluster;
        }
        catch
        {
            await DisposeAllAsync(started);
            throw;
        }
    }

    /// <summary>
    /// A user straight in the database (no password hashing: tests create many). Non-commercial by
    /// default so queue tests may use both test models; licence tests pass Commercial.
    /// </summary>
    public Task<JobActor> CreateUserAsync(string email, string role = Roles.User, AccountType accountType = AccountType.NonCommercial) =>
        Submitter.CreateUserAsync(email, role, accountType);

    public Task<T> WithDbAsync<T>(Func<FluxWebDbContext, Task<T>> read) => Submitter.WithDbAsync(read);

    public Task<Job> JobAsync(Guid id) => Submitter.JobAsync(id);

    /// <summary>Polls the job row until <paramref name="until"/> holds (the worker runs in the background).</summary>
    public Task<Job> WaitForJobAsync(Guid id, Func<Job, bool> until, TimeSpan? timeout = null) => Submitter.WaitForJobAsync(id, until, timeout);

    public Task<Job> WaitForEndAsync(Guid id, TimeSpan? timeout = null) => Submitter.WaitForEndAsync(id, timeout);

    /// <summary>Stops every silo: the worker's first (it requeues what it runs while the others are still up), the submitter's last.</summary>
    public async Task StopAsync()
    {
        for (var i = silos.Count - 1; i >= 0; i--)
        {
            await silos[i].StopAsync();
        }
    }

    /// <summary>
    /// Stops and disposes every silo. With <c>FLUXWEB_QUEUE_CLUSTER_LOGS</c> set to a folder, every silo's log lines are
    /// written there afterwards, one file per cluster: what a scenario that failed once under load saw.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await DisposeAllAsync(silos);
        if (Environment.GetEnvironmentVariable(LogsFolderVariable) is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
            await File.WriteAllLinesAsync(Path.Combine(folder, $"{Topology}-{Guid.NewGuid():N}.log"), Logs.Lines);
        }
    }

    /// <summary>In the order of <see cref="StopAsync"/>. Measured: the three stop in 40–200 ms in all (ADO.NET membership), so nothing is tuned.</summary>
    private static async Task DisposeAllAsync(IReadOnlyList<QueueHost> hosts)
    {
        for (var i = hosts.Count - 1; i >= 0; i--)
        {
            await hosts[i].DisposeAsync();
        }
    }

    /// <summary>The cluster id of the silos on this data folder: new for each test's folder, the same after a restart on it.</summary>
    private static string ClusterIdOf(string folder)
    {
        var data = Path.Combine(folder, "data");
        Directory.CreateDirectory(data);
        var file = Path.Combine(data, ClusterIdFile);
        if (!File.Exists(file))
        {
            File.WriteAllText(file, $"test-{Guid.NewGuid():N}");
        }

        return File.ReadAllText(file);
    }

    /// <summary>
    /// Every silo sees all three active in the membership table, so the scenario starts on a formed cluster, as a user
    /// would find it (silos learn of a new one from its gossip and the table, not at once).
    /// </summary>
    private async Task WaitUntilFormedAsync()
    {
        var watch = Stopwatch.StartNew();
        await Eventually.Until(
            () => silos.All(s => ActiveSilos(s) >= silos.Count),
            () => $"The {silos.Count} silos did not all see each other active within {watch.Elapsed.TotalSeconds:0.#} s: they see {string.Join(", ", silos.Select(ActiveSilos))}.");
    }

    private static int ActiveSilos(QueueHost silo) => silo.Services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active);
}
