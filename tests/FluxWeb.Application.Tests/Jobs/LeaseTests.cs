using System.Collections.Concurrent;
using FluxWeb.Application.Boards;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Images;
using FluxWeb.Domain.Jobs;
using FluxWeb.Domain.Time;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace FluxWeb.Application.Tests.Jobs;

/// <summary>
/// A claim is a lease with an epoch: a worker that hung or whose process died loses its job to the sweeper
/// (or the cluster), another worker runs it, and whatever the first one still delivers is refused. GPU work
/// may run twice; a result is committed, charged and delivered once.
/// </summary>
public class LeaseTests : IDisposable
{
    /// <summary>The database these scenarios run on; a subclass runs them all again on the other.</summary>
    protected virtual TestDatabaseProvider Database => TestDatabaseProvider.Sqlite;

    private static readonly DateTimeOffset Start = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    private const string HungWorker = "hung-box/4242/cuda:0";

    private readonly TempFolder folder = new("fluxweb-lease");

    public void Dispose() => folder.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_hung_workers_late_result_is_rejected_and_the_job_is_committed_charged_and_stored_once(bool hungWorkerFinishesFirst)
    {
        // Two processes on one database, each with its own clock: the hung one's never moves, so it never renews.
        var hungClock = new FakeTimeProvider(Start);
        var clock = new FakeTimeProvider(Start);
        var hungEngine = new FakeImageGenerator { Clock = hungClock, SimulatedStepTime = TimeSpan.FromSeconds(1.5) };
        var hungHold = hungEngine.HoldNextJob(step: 2);
        var engine = new FakeImageGenerator { Clock = clock, SimulatedStepTime = TimeSpan.FromSeconds(1) };
        var hold = hungWorkerFinishesFirst ? engine.HoldNextJob(step: 2) : null;
        // The hung process writes no progress after its first step, so its late output reaches the success write.
        await using var hung = await QueueHost.StartAsync(folder.Path, hungEngine, new Dictionary<string, string?> { ["Queue:ProgressWriteInterval"] = "01:00:00" }, hungClock, worker: false, database: Database);
        var ada = await hung.CreateUserAsync("ada@example.com");
        var owner = ada.UserId;
        var board = (await hung.Services.GetRequiredService<BoardService>().CreateAsync(ada, "Picks")).Value!.Id;
        var id = (await hung.Generation.SubmitAsync(owner, QueueHost.Request("run twice, kept once") with { AutoAddBoardId = board })).JobIds[0];
        var heard = new ConcurrentQueue<JobEvent>();
        using var listening = hung.Events.Subscribe(ada, heard.Enqueue);
        var hungLease = await hung.WithDbAsync(db => JobTransitions.ClaimAsync(db, id, HungWorker, Start.UtcDateTime, Start.UtcDateTime + Lease, default));
        Assert.NotNull(hungLease);
        var hungRun = RunAsync(hung, hungLease);
        await hungHold.Reached.WaitAsync(TimeSpan.FromSeconds(20));

        // The second process: its sweeper takes the job back once the lease has passed on its clock, its worker runs it.
        await using var healthy = await QueueHost.StartAsync(folder.Path, engine, time: clock, database: Database);
        await Eventually.Until(
            async () =>
            {
                // Stops moving the clock once the job is back in the queue, so the run that follows is measured alone.
                var job = await healthy.JobAsync(id);
                if (job.State == JobState.Queued || job.Epoch >= 2)
                {
                    return true;
                }

                clock.Advance(TimeSpan.FromSeconds(1));
                return false;
            },
            "the healthy process takes the job over");
        if (hold is not null)
        {
            await hold.Reached.WaitAsync(TimeSpan.FromSeconds(20));
            hungHold.Release();
            await hungRun.WaitAsync(TimeSpan.FromSeconds(20));
            hold.Release();
        }

        var done = await healthy.WaitForEndAsync(id);
        if (hold is null)
        {
            hungHold.Release();
            await hungRun.WaitAsync(TimeSpan.FromSeconds(20));
        }

        // The GPU work ran twice …
        Assert.Single(hungEngine.Completed);
        Assert.Single(engine.Completed);
        // … the result of the second claim is the job's, with its own measured time (4 steps of 1 s; the hung run's were 1.5 s).
        Assert.Equal((JobState.Succeeded, 2L, healthy.Services.GetRequiredService<JobWorkers>().Workers[0].WorkerId, 2), (done.State, done.Epoch, done.WorkerId, done.Attempts));
        Assert.InRange(done.GpuSeconds, 4.0, 5.5);
        var images = await healthy.WithDbAsync(db => db.Images.AsNoTracking().Where(i => i.JobId == id).ToListAsync());
        var image = Assert.Single(images);
        Assert.Equal(done.OutputImageId, image.Id);
        var files = Directory.GetFiles(Path.Combine(folder.Path, "data", "images"), $"job-{id:N}*", SearchOption.AllDirectories);
        Assert.Equal(healthy.Services.GetRequiredService<ImageStore>().FullPath(image.RelativePath), Assert.Single(files));
        var usage = await healthy.WithDbAsync(db => db.DailyUsage.AsNoTracking().SingleAsync(u => u.UserId == owner));
        Assert.Equal(1, usage.Images);
        Assert.Equal(done.GpuSeconds, usage.GpuSeconds, precision: 6);
        // The board gets the result once (it is added just after the success is committed).
        var onBoard = await Eventually.Value(
            () => healthy.WithDbAsync(db => db.BoardImages.Where(e => e.BoardId == board).Select(e => e.ImageId).ToListAsync()),
            images => images.Count > 0,
            () => "the result is added to the board");
        Assert.Equal([image.Id], onBoard);
        // The hung process said why it dropped its result, once, and recorded or announced nothing: once a marker
        // published after its run has been heard, everything its run published has been heard too.
        hung.Events.Publish(new JobEvent(JobEventKind.PositionChanged, id, owner, JobState.Queued, Start.UtcDateTime) { QueuePosition = -1 });
        await Eventually.Until(() => heard.Any(e => e.QueuePosition == -1), "the marker is heard");
        Assert.DoesNotContain(heard, e => e.Kind is JobEventKind.Succeeded or JobEventKind.Failed or JobEventKind.Cancelled or JobEventKind.Requeued);
        Assert.Contains(heard, e => e.Kind == JobEventKind.Started);
        var rejection = $"Result of job {id} from worker {HungWorker} (epoch 1) rejected: the job was reclaimed";
        Assert.Single(hung.Logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains(rejection, StringComparison.Ordinal));
        Assert.DoesNotContain(hung.Logs.Lines, l => l.Contains($"Job {id} succeeded", StringComparison.Ordinal) || l.Contains($"Job {id} ended", StringComparison.Ordinal));
        Assert.Contains(healthy.Logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains($"Job {id} taken back from worker {HungWorker} (epoch 1, attempt 1)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Taking_back_a_dead_process_takes_only_the_jobs_of_its_own_workers()
    {
        await using var host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), time: new FakeTimeProvider(Start), worker: false, database: Database);
        var owner = (await host.CreateUserAsync("ada@example.com")).UserId;
        var ids = (await host.Generation.SubmitAsync(owner, QueueHost.Request("a cluster", count: 4))).JobIds;
        var now = Start.UtcDateTime;
        string[] workers = ["10.0.0.1:11111@12/cpu", "10.0.0.1:11111@12/cuda:0", "10.0.0.1:11111@123/cpu", "10.0.0.2:11111@12/cpu"];
        for (var i = 0; i < ids.Count; i++)
        {
            var worker = workers[i];
            Assert.NotNull(await host.WithDbAsync(db => JobTransitions.ClaimAsync(db, ids[i], worker, now, now + Lease, default)));
        }

        // The GPU worker's job had been tried as often as allowed: it fails instead.
        await host.WithDbAsync(db => db.Jobs.Where(j => j.Id == ids[1]).ExecuteUpdateAsync(s => s.SetProperty(j => j.Attempts, 2)));
        var reclaimer = host.Services.GetRequiredService<JobReclaimer>();

        await Assert.ThrowsAsync<ArgumentException>(() => reclaimer.ReclaimWorkerAsync("", "The node stopped.", default));
        var taken = await reclaimer.ReclaimWorkerAsync(JobWorkerIds.NodePrefix("10.0.0.1:11111@12"), "The node running this job stopped, so it was not tried again.", default);

        Assert.Equal(2, taken);
        var jobs = await Task.WhenAll(ids.Select(host.JobAsync));
        Assert.Equal((JobState.Queued, (string?)null, 1L, 1), (jobs[0].State, jobs[0].WorkerId, jobs[0].Epoch, jobs[0].Attempts));
        Assert.Equal((JobState.Failed, "The node running this job stopped, so it was not tried again."), (jobs[1].State, jobs[1].Error));
        Assert.Equal((JobState.Running, "10.0.0.1:11111@123/cpu"), (jobs[2].State, jobs[2].WorkerId));
        Assert.Equal((JobState.Running, "10.0.0.2:11111@12/cpu"), (jobs[3].State, jobs[3].WorkerId));
        // The failed job's image went back to the quota; the other three still hold theirs.
        Assert.Equal(3, await host.WithDbAsync(db => db.DailyUsage.Where(u => u.UserId == owner).SumAsync(u => u.Images)));
        Assert.Contains(host.Logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains($"Job {ids[0]} taken back from worker 10.0.0.1:11111@12/cpu (epoch 1, attempt 1)", StringComparison.Ordinal));
        Assert.Contains(host.Logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains($"Job {ids[1]} taken back from worker 10.0.0.1:11111@12/cuda:0 (epoch 1) after 2 attempts", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_sweeper_takes_a_job_back_each_time_its_worker_dies_then_fails_it_with_the_reason_and_refunds_it()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), new Dictionary<string, string?> { ["Queue:MaxAttempts"] = "3" }, clock, worker: false, database: Database);
        var owner = (await host.CreateUserAsync("ada@example.com")).UserId;
        var id = (await host.Generation.SubmitAsync(owner, QueueHost.Request("kills its worker"))).JobIds[0];
        using var sweeper = new JobLeaseSweeper(host.Services.GetRequiredService<JobReclaimer>(), host.Services.GetRequiredService<IOptions<QueueOptions>>(), new AppClock(clock), NullLogger<JobLeaseSweeper>.Instance);
        await sweeper.StartAsync(default);

        for (var attempt = 1; attempt <= 3; attempt++)
        {
            var now = clock.GetUtcNow().UtcDateTime;
            var worker = $"doomed-box/{attempt}/cpu";
            Assert.NotNull(await host.WithDbAsync(db => JobTransitions.ClaimAsync(db, id, worker, now, now + Lease, default)));
            var back = await Eventually.Value(
                async () =>
                {
                    var job = await host.JobAsync(id);
                    if (job.State == JobState.Running)
                    {
                        clock.Advance(TimeSpan.FromSeconds(1));
                    }

                    return job;
                },
                j => j.State != JobState.Running,
                () => $"the sweeper takes attempt {attempt} back");
            Assert.True(clock.GetUtcNow().UtcDateTime >= now + Lease, "taken back before the lease passed");
            Assert.Equal(attempt < 3 ? JobState.Queued : JobState.Failed, back.State);
        }

        await sweeper.StopAsync(default);
        var failed = await host.JobAsync(id);
        Assert.Equal("The server stopped unexpectedly 3 times while this job was running, so it was not tried again.", failed.Error);
        Assert.Equal(0, await host.WithDbAsync(db => db.DailyUsage.Where(u => u.UserId == owner).SumAsync(u => u.Images)));
    }

    [Fact]
    public async Task A_lease_found_lost_at_renewal_stops_the_engine_run_and_the_run_records_nothing()
    {
        var clock = new FakeTimeProvider(Start);
        var engine = new FakeImageGenerator();
        var hold = engine.HoldNextJob(step: 2);
        await using var host = await QueueHost.StartAsync(folder.Path, engine, time: clock, database: Database);
        var owner = (await host.CreateUserAsync("ada@example.com")).UserId;
        var id = (await host.Generation.SubmitAsync(owner, QueueHost.Request("taken over"))).JobIds[0];
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(20));
        var mine = await host.JobAsync(id);
        Assert.Equal((JobState.Running, 1L), (mine.State, mine.Epoch));

        // Meanwhile the cluster gave the job to another node (what a reclaim and that node's claim leave on the row).
        var theirs = Start.UtcDateTime + TimeSpan.FromHours(1);
        await host.WithDbAsync(db => db.Jobs.Where(j => j.Id == id).ExecuteUpdateAsync(s => s
            .SetProperty(j => j.Epoch, 2L)
            .SetProperty(j => j.Attempts, 2)
            .SetProperty(j => j.WorkerId, "other-box/9/cpu")
            .SetProperty(j => j.LeaseExpiresUtc, theirs)));
        // The next renewal (a third of the lease later) learns it and stops the engine, which waits on its token.
        clock.Advance(Lease / 3);

        await Eventually.Until(() => engine.Cancelled.Count == 1, "the engine run is cancelled");
        await Eventually.Until(() => host.Services.GetRequiredService<RunningJobs>().Count == 0, "the run ends");
        var row = await host.JobAsync(id);
        Assert.Equal((JobState.Running, 2L, "other-box/9/cpu", (DateTime?)theirs, 0.0, (string?)null), (row.State, row.Epoch, row.WorkerId, row.LeaseExpiresUtc, row.GpuSeconds, row.Error));
        Assert.Empty(engine.Completed);
        Assert.Equal(0, await host.WithDbAsync(db => db.Images.CountAsync(i => i.JobId == id)));
        Assert.Single(host.Logs.Lines, l => l.Contains($"Result of job {id} from worker {host.Services.GetRequiredService<JobWorkers>().Workers[0].WorkerId} (epoch 1) rejected: the job was reclaimed", StringComparison.Ordinal));
        Assert.DoesNotContain(host.Logs.Lines, l => l.Contains($"Job {id} ended", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_job_taken_back_from_this_process_while_its_run_still_goes_waits_until_that_run_has_ended()
    {
        var clock = new FakeTimeProvider(Start);
        var engine = new FakeImageGenerator();
        var hold = engine.HoldNextJob(step: 2);
        // Room for two jobs in the engine, so only the worker's own restraint keeps it from starting the job again.
        await using var host = await QueueHost.StartAsync(folder.Path, engine, new Dictionary<string, string?> { ["Queue:MaxConcurrentJobs"] = "2" }, clock, database: Database);
        var owner = (await host.CreateUserAsync("ada@example.com")).UserId;
        var id = (await host.Generation.SubmitAsync(owner, QueueHost.Request("renewals stalled"))).JobIds[0];
        await hold.Reached.WaitAsync(TimeSpan.FromSeconds(20));

        // Its renewals stalled (a database locked for longer than the lease): the lease passed and a sweep took the job back.
        await host.WithDbAsync(db => db.Jobs.Where(j => j.Id == id).ExecuteUpdateAsync(s => s.SetProperty(j => j.LeaseExpiresUtc, Start.UtcDateTime.AddSeconds(-1))));
        await host.Services.GetRequiredService<JobReclaimer>().ReclaimExpiredAsync(default);
        Assert.Equal((JobState.Queued, 1L), ((await host.JobAsync(id)).State, (await host.JobAsync(id)).Epoch));
        // The next renewal finds the lease lost and stops the first run; only then does the worker take the job again.
        clock.Advance(Lease / 3);

        var done = await host.WaitForEndAsync(id);
        Assert.Equal((JobState.Succeeded, 2L, 2), (done.State, done.Epoch, done.Attempts));
        Assert.Equal(1, engine.MaxConcurrentRuns);
        Assert.Single(engine.Cancelled);
        Assert.Single(engine.Completed);
        Assert.Equal(1, await host.WithDbAsync(db => db.Images.CountAsync(i => i.JobId == id)));
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public async Task A_run_that_wrote_its_file_and_died_before_committing_leaves_no_file_once_its_job_is_taken_back(bool processDeclaredDead, bool attemptsLeft)
    {
        // Claimed just before midnight at the end of a month, written just after: the file lies in the next month's folder.
        var claimed = new DateTimeOffset(2026, 12, 31, 23, 59, 50, TimeSpan.Zero);
        var clock = new FakeTimeProvider(claimed);
        await using var host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), new Dictionary<string, string?> { ["Queue:MaxAttempts"] = attemptsLeft ? "2" : "1" }, clock, worker: false, database: Database);
        var store = host.Services.GetRequiredService<ImageStore>();
        var reclaimer = host.Services.GetRequiredService<JobReclaimer>();
        var owner = (await host.CreateUserAsync("ada@example.com")).UserId;
        var ids = (await host.Generation.SubmitAsync(owner, QueueHost.Request("killed before its commit", count: 2))).JobIds;
        var (kept, doomed) = (ids[0], ids[1]);
        // The same user's earlier image, committed the way a run commits it.
        var keptImage = await CommitRunAsync(host, await ClaimAsync(host, kept, "healthy-box/7/cpu"));
        var deadProcess = "doomed-box/1";
        var deadLease = await ClaimAsync(host, doomed, JobWorkerIds.NodePrefix(deadProcess) + "cpu");
        clock.Advance(TimeSpan.FromSeconds(20));
        var orphan = await WriteOutputAsync(host, deadLease);
        Assert.StartsWith("images/2027/01/", orphan.RelativePath, StringComparison.Ordinal);
        Assert.True(File.Exists(store.FullPath(orphan.RelativePath)));

        // The process was killed here, between its file and its commit: the cluster notices, or its lease runs out and a sweep takes the job.
        if (processDeclaredDead)
        {
            Assert.Equal(1, await reclaimer.ReclaimWorkerAsync(JobWorkerIds.NodePrefix(deadProcess), "The node running this job stopped, so it was not tried again.", default));
        }
        else
        {
            Assert.Equal(0, await reclaimer.ReclaimExpiredAsync(default));
            Assert.True(File.Exists(store.FullPath(orphan.RelativePath)), "removed while its lease still ran");
            clock.Advance(Lease);
            Assert.Equal(1, await reclaimer.ReclaimExpiredAsync(default));
        }

        Assert.False(File.Exists(store.FullPath(orphan.RelativePath)), "the dead run's file is still there");
        Assert.Equal(attemptsLeft ? JobState.Queued : JobState.Failed, (await host.JobAsync(doomed)).State);
        Assert.Contains(host.Logs.Lines, l => l.Contains($"Removed {orphan.RelativePath}, the output file of job {doomed}'s run (epoch 1) that was taken back before it committed", StringComparison.Ordinal));
        Assert.Equal(new[] { store.FullPath(keptImage.RelativePath) }, OutputFiles(store));
        if (!attemptsLeft)
        {
            return;
        }

        // The next run writes under its own epoch; a late second take-back of the dead process, or a sweep, leaves its file alone.
        var nextLease = await ClaimAsync(host, doomed, "healthy-box/7/cpu");
        Assert.Equal(2L, nextLease.Epoch);
        var next = await WriteOutputAsync(host, nextLease);
        Assert.Equal(0, await reclaimer.ReclaimWorkerAsync(JobWorkerIds.NodePrefix(deadProcess), "The node running this job stopped.", default));
        Assert.Equal(0, await reclaimer.ReclaimExpiredAsync(default));
        Assert.Equal(new[] { keptImage, next }.Select(i => store.FullPath(i.RelativePath)).Order(StringComparer.Ordinal), OutputFiles(store));
    }

    [Fact]
    public async Task A_run_killed_while_writing_its_file_leaves_no_partial_file_once_its_job_is_taken_back()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), time: clock, worker: false, database: Database);
        var store = host.Services.GetRequiredService<ImageStore>();
        var owner = (await host.CreateUserAsync("ada@example.com")).UserId;
        var id = (await host.Generation.SubmitAsync(owner, QueueHost.Request("killed mid-write"))).JobIds[0];
        var lease = await ClaimAsync(host, id, "doomed-box/1/cpu");
        // What a kill during the write leaves: the file under its name being written, never renamed.
        var written = await WriteOutputAsync(host, lease);
        var partial = store.FullPath(written.RelativePath) + ImageStore.PartialSuffix;
        File.Move(store.FullPath(written.RelativePath), partial);

        clock.Advance(Lease);
        Assert.Equal(1, await host.Services.GetRequiredService<JobReclaimer>().ReclaimExpiredAsync(default));

        Assert.False(File.Exists(partial), "the partial file is still there");
        Assert.Empty(Directory.GetFiles(store.Root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_file_that_an_image_row_points_to_is_never_removed_as_a_taken_back_runs_output()
    {
        var clock = new FakeTimeProvider(Start);
        await using var host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), time: clock, worker: false, database: Database);
        var store = host.Services.GetRequiredService<ImageStore>();
        var owner = (await host.CreateUserAsync("ada@example.com")).UserId;
        var id = (await host.Generation.SubmitAsync(owner, QueueHost.Request("committed"))).JobIds[0];
        var image = await CommitRunAsync(host, await ClaimAsync(host, id, "healthy-box/7/cpu"));

        // Asked about the epoch that committed (which a take-back never does): the committed file stays.
        Assert.Equal(0, await store.RemoveOutputOfTakenBackRunAsync(id, 1, Start.UtcDateTime, clock.GetUtcNow().UtcDateTime));

        Assert.True(File.Exists(store.FullPath(image.RelativePath)));
    }

    [Fact]
    public async Task A_tests_clock_moves_the_applications_time_and_never_the_clusters()
    {
        // These scenarios move a fake clock past leases. Orleans reads the container's TimeProvider for its membership
        // and timers: were it the fake clock, a day's jump would move the failure detector and every grain timer, and
        // advancing it under those timers once livelocked a run.
        var clock = new FakeTimeProvider(Start);
        await using var host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), time: clock, database: Database);

        clock.Advance(TimeSpan.FromDays(1));

        Assert.Equal(Start + TimeSpan.FromDays(1), host.Services.GetRequiredService<AppClock>().GetUtcNow());
        Assert.Same(TimeProvider.System, host.Services.GetRequiredService<TimeProvider>());
        // The queue still runs, and on the application's time.
        var owner = (await host.CreateUserAsync("ada@example.com")).UserId;
        var id = (await host.Generation.SubmitAsync(owner, QueueHost.Request("after a day"))).JobIds[0];
        var done = await host.WaitForEndAsync(id);
        Assert.Equal(JobState.Succeeded, done.State);
        Assert.Equal((Start + TimeSpan.FromDays(1)).UtcDateTime, done.FinishedUtc);
    }

    private static async Task<JobLease> ClaimAsync(QueueHost host, Guid jobId, string workerId)
    {
        var now = host.Services.GetRequiredService<AppClock>().GetUtcNow().UtcDateTime;
        var lease = await host.WithDbAsync(db => JobTransitions.ClaimAsync(db, jobId, workerId, now, now + Lease, default));
        Assert.NotNull(lease);
        return lease;
    }

    /// <summary>Writes a run's output file the way the runner does, without its row.</summary>
    private static async Task<StoredImage> WriteOutputAsync(QueueHost host, JobLease lease)
    {
        var job = await host.JobAsync(lease.JobId);
        var row = new StoredImage { OwnerId = job.OwnerId, JobId = job.Id, RelativePath = "", ContentType = "image/png", Sha256 = "" };
        await host.Services.GetRequiredService<ImageStore>().WriteOutputFileAsync(row, job.Id, lease.Epoch, [0x89, 0x50, 0x4E, 0x47, 1, 2, 3], 8, 8);
        return row;
    }

    /// <summary>A run that wrote its file and committed it: the row and the success in one transaction, as the runner does.</summary>
    private static async Task<StoredImage> CommitRunAsync(QueueHost host, JobLease lease)
    {
        var row = await WriteOutputAsync(host, lease);
        var now = host.Services.GetRequiredService<AppClock>().GetUtcNow().UtcDateTime;
        Assert.True(await host.WithDbAsync(async db =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync();
            db.Images.Add(row);
            await db.SaveChangesAsync();
            var succeeded = await JobTransitions.SucceedAsync(db, lease, row.Id, 1.0, now, null, default);
            await transaction.CommitAsync();
            return succeeded;
        }));
        return row;
    }

    private static string[] OutputFiles(ImageStore store) =>
        [.. Directory.GetFiles(store.Root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)];

    /// <summary>Runs a claimed job the way a worker does, in the given host (standing for a process with a worker).</summary>
    private static async Task RunAsync(QueueHost host, JobLease lease)
    {
        var job = await host.JobAsync(lease.JobId);
        var handle = host.Services.GetRequiredService<RunningJobs>().Register(job.Id, CancellationToken.None)!;
        try
        {
            await using var scope = host.Services.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<JobRunner>().RunAsync(job, lease, host.Services.GetRequiredService<IImageGenerator>(), handle, () => { }, CancellationToken.None);
        }
        finally
        {
            host.Services.GetRequiredService<RunningJobs>().Unregister(job.Id, handle);
        }
    }
}

public sealed class LeaseDurationSettingTests : IDisposable
{
    private readonly TempFolder folder = new("fluxweb-lease-setting");

    public void Dispose() => folder.Dispose();

    [Theory]
    [InlineData("00:00:04")]
    [InlineData("00:10:01")]
    public async Task A_lease_too_short_to_renew_or_too_long_to_wait_for_stops_the_start(string duration)
    {
        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), new Dictionary<string, string?> { ["Queue:LeaseDuration"] = duration }, worker: false));

        Assert.Contains("Queue:LeaseDuration must be between 00:00:05 and 00:10:00.", refused.Message, StringComparison.Ordinal);
    }
}

/// <summary>The same scenarios on PostgreSQL, the database several processes share.</summary>
public sealed class LeaseTestsOnPostgreSql : LeaseTests
{
    protected override TestDatabaseProvider Database => TestDatabaseProvider.PostgreSql;
}
