using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Scheduling;
using FluxWeb.Domain.Jobs;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Testing.Load;

public sealed record QueueLoadOptions
{
    public int Users { get; init; } = 20;

    /// <summary>Users who keep their queue full with batches of four; the rest ask for one image, wait for it, look at it, ask again.</summary>
    public int HeavyUsers { get; init; } = 4;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The fake engine's time per step; with four steps a job holds the "GPU" about four times this.</summary>
    public TimeSpan StepDelay { get; init; } = TimeSpan.FromMilliseconds(5);

    public int Steps { get; init; } = 4;

    public int MaxQueuedJobs { get; init; } = 16;

    /// <summary>Null: the app's own fair policy.</summary>
    public IJobSchedulingPolicy? Policy { get; init; }

    public string PolicyName => Policy is null ? "fair (FluxWeb)" : Policy.GetType().Name;
}

public sealed record UserFigures(string User, bool Heavy, int Accepted, int Refused, double MeanWaitSeconds, double P95WaitSeconds, double GpuSeconds);

/// <summary>What a load run measured. Timings are for reading, not asserting; the counts of lost and duplicated jobs are correctness.</summary>
public sealed record QueueLoadReport(
    QueueLoadOptions Options,
    int Submissions,
    int AcceptedJobs,
    int RefusedSubmissions,
    int SucceededJobs,
    int LostJobs,
    int DuplicatedRuns,
    int ImagesStored,
    int MaxConcurrentRuns,
    double ThroughputJobsPerSecond,
    double EnqueueP50Milliseconds,
    double EnqueueP95Milliseconds,
    double EnqueueMaxMilliseconds,
    IReadOnlyList<UserFigures> Users)
{
    private IEnumerable<UserFigures> Light => Users.Where(u => !u.Heavy && u.Accepted > 0);

    private IEnumerable<UserFigures> Heavy => Users.Where(u => u.Heavy && u.Accepted > 0);

    public double LightMeanWaitSeconds => Light.Any() ? Light.Average(u => u.MeanWaitSeconds) : 0;

    public double HeavyMeanWaitSeconds => Heavy.Any() ? Heavy.Average(u => u.MeanWaitSeconds) : 0;

    /// <summary>Fairness among users who behave alike: the longest mean wait of a light user over the shortest.</summary>
    public double LightWaitRatio => Ratio(Light.Select(u => u.MeanWaitSeconds));

    /// <summary>Fairness among the heavy users: their shares of GPU time, largest over smallest.</summary>
    public double HeavyGpuShareRatio => Ratio(Heavy.Select(u => u.GpuSeconds));

    /// <summary>The figure: the longest mean wait of any user over the shortest (heavy users wait mostly for their own backlog).</summary>
    public double MaxWaitRatio => Ratio(Users.Where(u => u.Accepted > 0).Select(u => u.MeanWaitSeconds));

    private static double Ratio(IEnumerable<double> values)
    {
        var list = values.ToList();
        return list.Count == 0 ? 0 : list.Max() / Math.Max(list.Min(), 1e-3);
    }

    public string Describe()
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"policy {Options.PolicyName}: {Options.Users} users ({Options.HeavyUsers} heavy), {Options.Duration.TotalSeconds:0} s, fake engine {Options.Steps} steps x {Options.StepDelay.TotalMilliseconds:0} ms");
        text.AppendLine(c, $"  submissions {Submissions} (refused {RefusedSubmissions} by the queued-jobs cap), jobs accepted {AcceptedJobs}, succeeded {SucceededJobs}, lost {LostJobs}, run twice {DuplicatedRuns}, images stored {ImagesStored}, most jobs on the engine at once {MaxConcurrentRuns}");
        text.AppendLine(c, $"  throughput {ThroughputJobsPerSecond:0.0} jobs/s; enqueue latency p50 {EnqueueP50Milliseconds:0.0} ms, p95 {EnqueueP95Milliseconds:0.0} ms, max {EnqueueMaxMilliseconds:0.0} ms");
        text.AppendLine(c, $"  mean wait: light users {LightMeanWaitSeconds:0.000} s, heavy users {HeavyMeanWaitSeconds:0.000} s");
        text.Append(c, $"  fairness: light users' wait ratio {LightWaitRatio:0.00}, heavy users' GPU share ratio {HeavyGpuShareRatio:0.00}, max wait ratio over all users {MaxWaitRatio:0.0}");
        return text.ToString();
    }
}

/// <summary>
/// Simulated users against the real queue (GenerationService, worker, SQLite) and the fast fake
/// engine. Used by the bench program (60 s) and by a short test in the test command.
/// </summary>
public static class QueueLoadRun
{
    public static async Task<QueueLoadReport> RunAsync(QueueLoadOptions options, CancellationToken cancellationToken = default)
    {
        using var folder = new TempFolder("fluxweb-load");
        var engine = new FakeImageGenerator { DefaultSteps = options.Steps, StepDelay = options.StepDelay, DefaultSize = 32 };
        var settings = new Dictionary<string, string?>
        {
            ["Quotas:Roles:User:ImagesPerDay"] = "1000000",
            ["Quotas:Roles:User:GpuSecondsPerDay"] = "1000000",
            ["Quotas:Roles:User:MaxQueuedJobs"] = options.MaxQueuedJobs.ToString(CultureInfo.InvariantCulture),
            ["Queue:ProgressWriteInterval"] = "00:00:01",
        };
        await using var host = await QueueHost.StartAsync(
            folder.Path,
            engine,
            settings,
            services: services =>
            {
                if (options.Policy is not null)
                {
                    services.AddSingleton(options.Policy);
                }
            });

        var users = new List<JobActor>();
        for (var i = 0; i < options.Users; i++)
        {
            users.Add(await host.CreateUserAsync($"user{i:00}@example.com"));
        }

        var latencies = new ConcurrentBag<double>();
        var accepted = new ConcurrentDictionary<Guid, string>();
        var refused = new ConcurrentDictionary<string, int>();
        var submissions = 0;
        var deadline = Stopwatch.StartNew();

        async Task<SubmitResult> SubmitAsync(JobActor user, int number, int count)
        {
            var timer = Stopwatch.StartNew();
            var result = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request($"{user.UserId} #{number}", count, seed: (ulong)number * 16), cancellationToken);
            latencies.Add(timer.Elapsed.TotalMilliseconds);
            Interlocked.Increment(ref submissions);
            if (result.Accepted)
            {
                foreach (var id in result.JobIds)
                {
                    accepted[id] = user.UserId;
                }
            }
            else
            {
                refused.AddOrUpdate(user.UserId, 1, (_, n) => n + 1);
            }

            return result;
        }

        async Task HeavyAsync(JobActor user)
        {
            var number = 0;
            while (deadline.Elapsed < options.Duration)
            {
                var result = await SubmitAsync(user, ++number, 4);
                if (!result.Accepted)
                {
                    await Task.Delay(25, cancellationToken);
                }
            }
        }

        async Task LightAsync(JobActor user, int index)
        {
            var random = new Random(index);
            var finished = new ConcurrentDictionary<Guid, TaskCompletionSource>();
            using var subscription = host.Events.Subscribe(user, e =>
            {
                if (e.Kind is JobEventKind.Succeeded or JobEventKind.Failed or JobEventKind.Cancelled)
                {
                    finished.GetOrAdd(e.JobId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
                }
            });
            var number = 0;
            await Task.Delay(random.Next(0, 200), cancellationToken);
            while (deadline.Elapsed < options.Duration)
            {
                var result = await SubmitAsync(user, ++number, 1);
                if (result.Accepted)
                {
                    var done = finished.GetOrAdd(result.JobIds[0], _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                    await done.Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
                }

                await Task.Delay(random.Next(50, 300), cancellationToken);
            }
        }

        await Task.WhenAll(users.Select((user, i) => Task.Run(() => i < options.HeavyUsers ? HeavyAsync(user) : LightAsync(user, i), cancellationToken)));

        // Drain: everything accepted must end.
        var drainUntil = Stopwatch.StartNew();
        while (await host.WithDbAsync(db => db.Jobs.AnyAsync(j => j.State == JobState.Queued || j.State == JobState.Running, cancellationToken)))
        {
            if (drainUntil.Elapsed > TimeSpan.FromMinutes(2))
            {
                break;
            }

            await Task.Delay(50, cancellationToken);
        }

        var rows = await host.WithDbAsync(db => db.Jobs.AsNoTracking().ToListAsync(cancellationToken));
        var imagesPerJob = await host.WithDbAsync(db => db.Images.Where(i => i.JobId != null).GroupBy(i => i.JobId).Select(g => g.Count()).ToListAsync(cancellationToken));
        var byId = rows.ToDictionary(j => j.Id);
        var lost = accepted.Keys.Count(id => !byId.TryGetValue(id, out var job) || job.State != JobState.Succeeded) + rows.Count(j => !accepted.ContainsKey(j.Id));
        var duplicated = engine.Completed.GroupBy(r => (r.Prompt, r.Seed)).Sum(g => g.Count() - 1) + imagesPerJob.Sum(n => n - 1);
        var succeeded = rows.Where(j => j.State == JobState.Succeeded).ToList();
        var span = succeeded.Count == 0 ? 1 : Math.Max(1e-3, (succeeded.Max(j => j.FinishedUtc!.Value) - rows.Min(j => j.EnqueuedUtc)).TotalSeconds);
        var ordered = latencies.Order().ToList();

        var figures = users.Select((user, i) =>
        {
            var waits = succeeded.Where(j => j.OwnerId == user.UserId).Select(j => (j.StartedUtc!.Value - j.EnqueuedUtc).TotalSeconds).Order().ToList();
            return new UserFigures(
                $"user{i:00}",
                i < options.HeavyUsers,
                accepted.Count(a => a.Value == user.UserId),
                refused.GetValueOrDefault(user.UserId),
                waits.Count == 0 ? 0 : waits.Average(),
                Percentile(waits, 0.95),
                succeeded.Where(j => j.OwnerId == user.UserId).Sum(j => j.GpuSeconds));
        }).ToList();

        return new QueueLoadReport(
            options,
            submissions,
            accepted.Count,
            refused.Values.Sum(),
            succeeded.Count,
            lost,
            duplicated,
            imagesPerJob.Count,
            engine.MaxConcurrentRuns,
            succeeded.Count / span,
            Percentile(ordered, 0.50),
            Percentile(ordered, 0.95),
            ordered.Count == 0 ? 0 : ordered[^1],
            figures);
    }

    private static double Percentile(IReadOnlyList<double> sorted, double fraction) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Count) - 1, 0, sorted.Count - 1)];
}
