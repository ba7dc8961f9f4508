using System.Diagnostics;
using System.Text.RegularExpressions;
using FluxWeb.Testing;

namespace FluxWeb.Browser.Tests.Published.Cluster;

/// <summary>
/// Issue 18's "real processes": the published app as a web node and two worker processes on one PostgreSQL
/// database, and a worker that dies (SIGKILL) or hangs (SIGSTOP) in the middle of a job. GPU work may run twice;
/// the result is committed, charged and delivered once. The database is read directly to prove it.
/// </summary>
[Collection(ClusterProcessCollection.Name)]
public sealed partial class WorkerFailoverTests
{
    /// <summary>Long enough on the demo model (a few seconds on a busy 2-core machine) to be caught running.</summary>
    private const int Size = 512;

    private const int Steps = 40;

    // Within 10 s because membership probes every Cluster:ProbeTimeout (2 s) and declares a silo dead after three
    // missed probes (docs/decisions/0023); with Orleans' own 5 s it took about 10.2 s here.
    [Fact]
    public async Task A_worker_killed_mid_job_has_its_job_requeued_within_10_s_and_done_exactly_once()
    {
        await using var cluster = await PublishedCluster.StartAsync("cluster-kill", workerCount: 2);
        var user = await cluster.CreateUserAsync("kill@cluster.test");
        var jobId = await user.SubmitAsync("a lighthouse, killed mid-job", Size, Steps, seed: 7);

        var running = await RunningWorkerAsync(cluster, user, jobId);
        var survivor = cluster.Workers.Single(w => w != running);
        await running.KillAsync();
        var killed = Stopwatch.StartNew();
        Assert.NotEqual("Succeeded", await user.StateAsync(jobId));

        // Requeued: the API shows it waiting again, or the surviving worker has already taken it.
        await Eventually.Until(
            async () => PublishedCluster.WorkersThatTook(cluster, survivor, jobId) || await user.StateAsync(jobId) == "Queued",
            () => $"job {jobId} was not requeued within 10 s of the kill; web node:\n{Tail(cluster.Web.Log)}",
            TimeSpan.FromSeconds(10));
        var requeuedAfter = killed.Elapsed;

        await WaitForSuccessAsync(user, jobId, cluster);
        (await cluster.LedgerAsync(user)).AssertEachSucceededOnce([jobId]);
        await cluster.AssertImageFilesMatchRowsAsync();
        Assert.True(PublishedCluster.WorkersThatTook(cluster, survivor, jobId), $"the surviving worker never took job {jobId}:\n{Tail(survivor.Log)}");
        Console.WriteLine($"cluster: job requeued {requeuedAfter.TotalSeconds:0.0} s after SIGKILL of its worker, succeeded once");
    }

    [Fact]
    public async Task A_hung_worker_loses_its_job_when_the_lease_expires_and_its_late_result_is_rejected_and_logged()
    {
        var lease = TimeSpan.FromSeconds(6);
        await using var cluster = await PublishedCluster.StartAsync("cluster-stop", workerCount: 2, new Dictionary<string, string>
        {
            ["Queue__LeaseDuration"] = lease.ToString("c"),
        });
        var user = await cluster.CreateUserAsync("stop@cluster.test");
        var jobId = await user.SubmitAsync("a lighthouse, hung mid-job", Size, Steps, seed: 8);

        var hung = await RunningWorkerAsync(cluster, user, jobId);
        var other = cluster.Workers.Single(w => w != hung);
        hung.Stop();
        var stopped = Stopwatch.StartNew();
        try
        {
            await Eventually.Until(
                () => PublishedCluster.WorkersThatTook(cluster, other, jobId),
                () => $"the other worker never took job {jobId} after its worker hung; web node:\n{Tail(cluster.Web.Log)}\nother worker:\n{Tail(other.Log)}",
                TimeSpan.FromSeconds(60));
            var takenAfter = stopped.Elapsed;
            await WaitForSuccessAsync(user, jobId, cluster);
            Console.WriteLine($"cluster: job taken by the other worker {takenAfter.TotalSeconds:0.0} s after SIGSTOP (lease {lease.TotalSeconds:0} s)");
        }
        finally
        {
            hung.Continue();
        }

        // The hung worker wakes up, finishes the GPU work it was doing and tries to commit: refused, and it says so.
        await Eventually.Until(
            () => hung.Lines.Any(line => line.Contains(jobId.ToString(), StringComparison.OrdinalIgnoreCase) && LateResultRejected().IsMatch(line)),
            () => $"the hung worker did not log its late result of job {jobId} as rejected:\n{Tail(hung.Log)}",
            TimeSpan.FromSeconds(90));

        Assert.Equal("Succeeded", await user.StateAsync(jobId));
        (await cluster.LedgerAsync(user)).AssertEachSucceededOnce([jobId]);
        await cluster.AssertImageFilesMatchRowsAsync();
    }

    /// <summary>
    /// The dispatcher is a singleton grain that lives on one process; here, the web node (it starts first, see
    /// <see cref="ClusterProcessCollection"/>). When that process is killed, the grain comes back on a worker process
    /// (the only silos left), rebuilds its view from the database and the workers' next reports, and the queue keeps
    /// moving without any web node: every job, running or waiting when the web node died, succeeds exactly once. The
    /// web node is then started again, as an operator would, and shows every job done.
    /// </summary>
    [Fact]
    public async Task The_dispatchers_own_process_killed_its_grain_comes_back_on_another_and_every_job_succeeds_once()
    {
        await using var cluster = await PublishedCluster.StartAsync("cluster-dispatcher", workerCount: 2);
        var user = await cluster.CreateUserAsync("dispatcher@cluster.test");
        var jobs = new List<Guid>();
        for (var i = 0; i < 4; i++)
        {
            jobs.Add(await user.SubmitAsync($"a lighthouse, number {i}, while the dispatcher dies", Size, Steps, seed: (ulong)(20 + i)));
        }

        // Two run (one per worker), two wait.
        await Eventually.Until(
            () => jobs.Count(id => cluster.WorkersThatTook(id).Count > 0) == 2,
            () => $"the two workers did not each take a job; web node:\n{Tail(cluster.Web.Log)}",
            TimeSpan.FromSeconds(60));
        Assert.True(DispatcherActivations(cluster.Web.Log) == 1, $"the dispatcher is not on the web node:\n{Tail(cluster.Web.Log)}");
        Assert.All(cluster.Workers, w => Assert.Equal(0, DispatcherActivations(w.Log)));
        var waiting = await cluster.ScalarAsync<long>("""SELECT COUNT(*) FROM "Jobs" WHERE "State" = 'Queued'""");
        Assert.True(waiting >= 1, "no job was still waiting when the dispatcher's process was killed: make the jobs longer (Size, Steps)");

        await cluster.Web.KillAsync();
        var killed = Stopwatch.StartNew();

        var host = await Eventually.Value(
            () => Task.FromResult(cluster.Workers.FirstOrDefault(w => DispatcherActivations(w.Log) > 0)),
            w => w is not null,
            () => $"no worker activated the dispatcher after the web node was killed:\n{string.Join("\n", cluster.Workers.Select(w => $"{w.Name}:\n{Tail(w.Log)}"))}",
            TimeSpan.FromSeconds(60));
        var movedAfter = killed.Elapsed;
        await Eventually.Until(
            async () => await cluster.ScalarAsync<long>("""SELECT COUNT(*) FROM "Jobs" WHERE "State" = 'Succeeded'""") == jobs.Count,
            () => $"not every job succeeded without the web node:\n{string.Join("\n", cluster.Workers.Select(w => $"{w.Name}:\n{Tail(w.Log)}"))}",
            TimeSpan.FromSeconds(180));
        var doneAfter = killed.Elapsed;
        (await cluster.LedgerAsync(user)).AssertEachSucceededOnce(jobs);
        await cluster.AssertImageFilesMatchRowsAsync();

        // The web node comes back (on a new free port) and shows every job done.
        await cluster.Web.StartAsync("--no-workers");
        using var http = new HttpClient { BaseAddress = new Uri(cluster.Web.BaseUrl + "/") };
        http.DefaultRequestHeaders.Authorization = user.Http.DefaultRequestHeaders.Authorization;
        var again = user with { Http = http };
        foreach (var id in jobs)
        {
            Assert.Equal("Succeeded", await again.StateAsync(id));
        }

        Console.WriteLine($"cluster: dispatcher active on {host!.Name} {movedAfter.TotalSeconds:0.0} s after SIGKILL of the web node; all {jobs.Count} jobs succeeded once {doneAfter.TotalSeconds:0.0} s after it");
    }

    private static int DispatcherActivations(string log) =>
        log.Split('\n').Count(line => line.Contains("The job dispatcher is active", StringComparison.Ordinal));

    /// <summary>Waits until a worker has taken the job and the API shows it running; returns that worker.</summary>
    internal static async Task<ClusterProcess> RunningWorkerAsync(PublishedCluster cluster, ClusterUser user, Guid jobId)
    {
        var worker = await Eventually.Value(
            () => Task.FromResult(cluster.WorkersThatTook(jobId).SingleOrDefault()),
            w => w is not null,
            () => $"no worker took job {jobId}; web node:\n{Tail(cluster.Web.Log)}",
            TimeSpan.FromSeconds(60));
        await Eventually.Until(
            async () => await user.StateAsync(jobId) is "Running" or "Succeeded",
            $"job {jobId} never showed as running",
            TimeSpan.FromSeconds(30));
        Assert.True(await user.StateAsync(jobId) == "Running", $"job {jobId} ended before the test could interrupt it: make it longer (Size, Steps)");
        return worker!;
    }

    internal static async Task WaitForSuccessAsync(ClusterUser user, Guid jobId, PublishedCluster cluster) =>
        await Eventually.Until(
            async () =>
            {
                var state = await user.StateAsync(jobId);
                Assert.True(state is "Queued" or "Running" or "Succeeded", $"job {jobId} ended {state}: {await user.JobAsync(jobId)}");
                return state == "Succeeded";
            },
            () => $"job {jobId} did not succeed; web node:\n{Tail(cluster.Web.Log)}",
            TimeSpan.FromSeconds(120));

    internal static string Tail(string log) => string.Join('\n', log.Split('\n').TakeLast(40));

    /// <summary>The worker's line for a result it may no longer commit (its claim was taken back).</summary>
    [GeneratedRegex("rejected|not recorded", RegexOptions.IgnoreCase)]
    private static partial Regex LateResultRejected();
}

/// <summary>
/// The cluster tests start several published processes each and time how fast a job comes back: they run one after
/// another and alone (xUnit runs a collection that disables parallelization after the others), so the published-app
/// lanes do not take their CPU. The web node starts first, so the dispatcher grain is activated on it: killing a
/// worker leaves the dispatcher alone, and killing the web node kills the dispatcher's process.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterProcessCollection
{
    public const string Name = "cluster of published processes";
}
