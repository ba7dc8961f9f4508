using System.Diagnostics;
using System.Globalization;
using FluxWeb.Testing;

namespace FluxWeb.Browser.Tests.Published.Cluster;

/// <summary>
/// Issue 18's chaos run: 200 jobs from 5 users on the published cluster (a web node, two worker processes on
/// PostgreSQL) while a loop SIGKILLs a random worker and starts a new one, again and again. It takes minutes on
/// 2 cores, so it has its own category, left out of the everyday <c>./build.sh test</c>:
/// <c>./build.sh test --filter Category=Chaos</c>.
/// </summary>
[Collection(ClusterProcessCollection.Name)]
public sealed class ClusterChaosTests
{
    private const int Users = 5;
    private const int JobsPerUser = 40;

    /// <summary>About a second per job on the demo model's base variant at 256², so the 200 jobs take minutes, not tens of them.</summary>
    private const int ChaosSteps = 8;

    /// <summary>Worker processes kept running; the chaos loop kills one and starts its replacement, so never more are alive at once.</summary>
    private const int MaxLiveWorkers = 2;

    [Fact]
    [Trait("Category", "Chaos")]
    public async Task Two_hundred_jobs_from_five_users_survive_random_worker_kills_none_lost_none_twice_and_shared_fairly()
    {
        await using var cluster = await PublishedCluster.StartAsync("cluster-chaos", MaxLiveWorkers, new Dictionary<string, string>
        {
            // A job may be interrupted by several kills in a row: it is tried up to the most the setting allows (10),
            // not failed after the default two attempts (the right default for a job that crashes its worker).
            ["Queue__MaxAttempts"] = "10",
            // Each user queues all 40 at once.
            ["Quotas__Roles__User__MaxQueuedJobs"] = "100",
            // The lease is the backstop for a killed worker's job; short, so the run does not wait on it long.
            ["Queue__LeaseDuration"] = "00:00:10",
        });
        var users = new List<ClusterUser>();
        for (var u = 0; u < Users; u++)
        {
            users.Add(await cluster.CreateUserAsync($"chaos{u}@cluster.test"));
        }

        // Interleaved, as five people submitting at once would.
        var jobs = users.ToDictionary(u => u, _ => new List<Guid>());
        for (var i = 0; i < JobsPerUser; i++)
        {
            foreach (var user in users)
            {
                jobs[user].Add(await user.SubmitAsync($"chaos {i}", size: 256, steps: ChaosSteps, seed: (ulong)i));
            }
        }

        var clock = Stopwatch.StartNew();
        var random = new Random(18);
        var kills = 0;
        using var done = new CancellationTokenSource();
        var chaos = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(random.Next(4, 12)), done.Token).ContinueWith(_ => { });
                if (done.IsCancellationRequested)
                {
                    break;
                }

                var live = cluster.Workers;
                await live[random.Next(live.Count)].KillAsync();
                Interlocked.Increment(ref kills);
                await cluster.StartWorkerAsync();
            }
        });

        try
        {
            await Eventually.Until(
                async () => await cluster.ScalarAsync<long>("""SELECT COUNT(*) FROM "Jobs" WHERE "State" <> 'Succeeded'""") == 0
                    || await cluster.ScalarAsync<long>("""SELECT COUNT(*) FROM "Jobs" WHERE "State" IN ('Failed', 'Cancelled')""") > 0,
                () => $"jobs not finished after {clock.Elapsed.TotalSeconds:0} s",
                TimeSpan.FromMinutes(20));
        }
        finally
        {
            await done.CancelAsync();
            await chaos;
        }

        // 0 lost and 0 committed twice: every job succeeded once, one image and one charge each.
        foreach (var user in users)
        {
            (await cluster.LedgerAsync(user)).AssertEachSucceededOnce(jobs[user]);
        }

        // The figures first, so a run that fails a check below still reports them.
        var fairness = await FairnessAsync(cluster, users);
        var bound = (MaxLiveWorkers * fairness.MaxJobSeconds) + ((MaxLiveWorkers + 1) * fairness.MeanJobSeconds);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cluster chaos: {Users * JobsPerUser} jobs in {clock.Elapsed.TotalSeconds:0} s with {kills} SIGKILLs; ") +
            string.Create(CultureInfo.InvariantCulture, $"job cost {fairness.MinJobSeconds:0.00}–{fairness.MaxJobSeconds:0.00} GPU-s (mean {fairness.MeanJobSeconds:0.00}); while all users were waiting, ") +
            string.Create(CultureInfo.InvariantCulture, $"the largest gap between two users' GPU-seconds was {fairness.SecondsSpread:0.0} s (bound {bound:0.0} s) and between their finished jobs {fairness.JobsSpread}"));
        await cluster.AssertImageFilesMatchRowsAsync();
        Assert.True(kills >= 2, $"the chaos loop killed only {kills} worker(s): the run proves nothing about failover");
        Assert.True(fairness.SecondsSpread <= bound, string.Create(CultureInfo.InvariantCulture, $"a user fell {fairness.SecondsSpread:0.0} GPU-seconds behind another while all had work waiting (bound {bound:0.0} s)"));
    }

    /// <summary>
    /// The fairness bound of the single-box scheduler (FairSchedulingPolicy, ADR 0007) is in GPU time: "whose turn" is
    /// the user with the fewest GPU-seconds, and with unequal job costs it is fair in GPU time, not in job count. The
    /// first version of this test bounded the gap in finished jobs by W + 2 (W workers in flight, 1 for round-robin, 1
    /// for a killed worker's job), assuming every job costs the same "as long as no job costs twice another". Here
    /// they do not: on the shared 2-core machine a job's measured cost ran from 0.4 to 4.8 GPU-seconds (mean 1.5),
    /// and the first job on each restarted worker process is charged its model load (2 to 5 s; 17 worker processes
    /// in one run). The first run with the running-job cap below measured a gap of 9 jobs while the users' GPU-seconds
    /// differed by at most 5.3 s: the user 9 jobs behind had been charged as much GPU time as the others. So the bound
    /// is stated in what the policy promises:
    /// <para>
    /// Let A be ahead of B at some moment while both wait, and j A's job that started last among those A has finished.
    /// When j started, A's counted usage was at most B's. Since then A gained at most the full cost of j and of A's
    /// other jobs then in flight beyond what was counted of them: at most W jobs, each at most the run's costliest job.
    /// B's counted usage then exceeded B's finished usage now by at most its running jobs' counted parts: W − 1 on live
    /// workers and those on killed workers not yet noticed (a kill every 4 to 12 s, noticed after about 10 s: up to 2),
    /// W + 1 in all, each counted no more than its expected cost (SchedulingSnapshotReader caps a running job there;
    /// before that cap, a job on a killed worker kept counting its elapsed time until the cluster noticed, and its owner
    /// lost every turn meanwhile), the mean of recent costs. So the gap is at most W × (costliest job) + (W + 1) ×
    /// (mean job cost), both measured in the run.
    /// </para>
    /// </summary>
    private sealed record Fairness(double SecondsSpread, int JobsSpread, double MinJobSeconds, double MeanJobSeconds, double MaxJobSeconds);

    /// <summary>
    /// The largest differences between two users' GPU-seconds and counts of finished jobs, over every moment while every
    /// user still had jobs not finished (after the first user's last job finished, the others catching up is not unfairness),
    /// with the spread of job costs that bounds them.
    /// </summary>
    private static async Task<Fairness> FairnessAsync(PublishedCluster cluster, IReadOnlyList<ClusterUser> users)
    {
        var finished = new List<(DateTime At, string User, double Seconds)>();
        await using (var connection = new Npgsql.NpgsqlConnection(cluster.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new Npgsql.NpgsqlCommand("""SELECT "FinishedUtc", "OwnerId", "GpuSeconds" FROM "Jobs" ORDER BY "FinishedUtc" """, connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                finished.Add((reader.GetDateTime(0), reader.GetString(1), reader.GetDouble(2)));
            }
        }

        var contestedUntil = users.Min(u => finished.Where(f => f.User == u.Id).Max(f => f.At));
        var counts = users.ToDictionary(u => u.Id, _ => 0);
        var seconds = users.ToDictionary(u => u.Id, _ => 0.0);
        var (jobsSpread, secondsSpread) = (0, 0.0);
        foreach (var (at, user, cost) in finished.Where(f => f.At < contestedUntil))
        {
            counts[user]++;
            seconds[user] += cost;
            jobsSpread = Math.Max(jobsSpread, counts.Values.Max() - counts.Values.Min());
            secondsSpread = Math.Max(secondsSpread, seconds.Values.Max() - seconds.Values.Min());
        }

        return new Fairness(secondsSpread, jobsSpread, finished.Min(f => f.Seconds), finished.Average(f => f.Seconds), finished.Max(f => f.Seconds));
    }
}
