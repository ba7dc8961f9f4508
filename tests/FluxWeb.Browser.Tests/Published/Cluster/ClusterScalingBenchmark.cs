using System.Globalization;
using FluxWeb.Testing;
using Npgsql;

namespace FluxWeb.Browser.Tests.Published.Cluster;

/// <summary>
/// Issue 18's scaling benchmark on the published cluster (web node and worker processes on PostgreSQL, one CPU
/// worker per process, the demo model): jobs per minute with 1, 2 and 3 workers in one run, as ratios to 1, and the
/// dispatch overhead per job. It prints figures and asserts no time (only that every job succeeded). Category
/// <c>Benchmark</c>, left out of the everyday run: <c>./build.sh test --filter Category=Benchmark</c>, on a quiet
/// machine; compare ratios from one run.
/// </summary>
[Collection(ClusterProcessCollection.Name)]
public sealed class ClusterScalingBenchmark
{
    private const int JobsPerRound = 24;
    private const int OverheadSamples = 10;

    [Fact]
    [Trait("Category", "Benchmark")]
    public async Task Prints_jobs_per_minute_with_one_two_and_three_workers_and_the_dispatch_overhead()
    {
        await using var cluster = await PublishedCluster.StartAsync("cluster-bench", workerCount: 1, new Dictionary<string, string>
        {
            ["Quotas__Roles__User__MaxQueuedJobs"] = "100",
        });
        var user = await cluster.CreateUserAsync("bench@cluster.test");

        // The first job loads the model into the first worker; not measured.
        await RunRoundAsync(cluster, user, 1, "warm-up");

        // Dispatch overhead: one job at a time into an idle cluster, from the moment it is queued (claim-able: a
        // worker is idle) to the moment a worker claimed it, both as the database recorded them.
        var overheads = new List<double>();
        for (var i = 0; i < OverheadSamples; i++)
        {
            var id = await user.SubmitAsync($"overhead {i}", size: 256, steps: null, seed: (ulong)i);
            await WorkerFailoverTests.WaitForSuccessAsync(user, id, cluster);
            var (enqueued, started, _) = await TimesAsync(cluster, [id]);
            overheads.Add((started - enqueued).TotalMilliseconds);
        }

        var rates = new Dictionary<int, double>();
        for (var workers = 1; workers <= 3; workers++)
        {
            while (cluster.Workers.Count < workers)
            {
                await cluster.StartWorkerAsync();
                // Each new worker loads the model on its first job; a warm-up round per worker keeps that out.
                await RunRoundAsync(cluster, user, workers * 2, $"warm-up {workers}");
            }

            rates[workers] = await RunRoundAsync(cluster, user, JobsPerRound, $"round {workers}");
        }

        overheads.Sort();
        Console.WriteLine("cluster scaling (demo model, 256², one CPU worker per process, one thread each):");
        foreach (var (workers, rate) in rates)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {workers} worker(s): {rate:0.0} jobs/min, {rate / rates[1]:0.00}× one worker"));
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  dispatch overhead (queued → claimed, idle cluster, {OverheadSamples} jobs): median {overheads[overheads.Count / 2]:0} ms, max {overheads[^1]:0} ms"));
        Console.WriteLine($"  machine: {Environment.ProcessorCount} cores");
    }

    /// <summary>Queues <paramref name="count"/> jobs at once, waits for all, and returns jobs per minute (first claim to last finish).</summary>
    private static async Task<double> RunRoundAsync(PublishedCluster cluster, ClusterUser user, int count, string label)
    {
        var ids = new List<Guid>();
        for (var i = 0; i < count; i++)
        {
            ids.Add(await user.SubmitAsync($"{label} {i}", size: 256, steps: null, seed: (ulong)i));
        }

        foreach (var id in ids)
        {
            await WorkerFailoverTests.WaitForSuccessAsync(user, id, cluster);
        }

        var (_, firstStarted, lastFinished) = await TimesAsync(cluster, ids);
        return count / (lastFinished - firstStarted).TotalMinutes;
    }

    private static async Task<(DateTime FirstEnqueued, DateTime FirstStarted, DateTime LastFinished)> TimesAsync(PublishedCluster cluster, IReadOnlyList<Guid> ids)
    {
        await using var connection = new NpgsqlConnection(cluster.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""SELECT MIN("EnqueuedUtc"), MIN("StartedUtc"), MAX("FinishedUtc") FROM "Jobs" WHERE "Id" = ANY(@ids)""", connection);
        command.Parameters.AddWithValue("ids", ids.ToArray());
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetDateTime(0), reader.GetDateTime(1), reader.GetDateTime(2));
    }
}
