using FluxWeb.Application.Scheduling;
using static FluxWeb.Application.Tests.Scheduling.SchedulerSimulation;

namespace FluxWeb.Application.Tests.Scheduling;

public sealed class FairSchedulingPolicyTests
{
    private static readonly FairSchedulingPolicy NoAffinity = new(TimeSpan.Zero);

    private static string Order(IReadOnlyList<SimulatedStart> starts) => string.Join(" ", starts.Select(s => s.Job.Name));

    [Fact]
    public void An_empty_queue_picks_nothing()
    {
        Assert.Null(NoAffinity.PickNext(new SchedulingSnapshot([], new Dictionary<string, UserUsage>(), null, Epoch)));
    }

    [Fact]
    public void B_runs_within_the_next_two_slots_after_A_queued_ten()
    {
        var jobs = Batch("A", 10, arrival: 0, cost: 5).Append(new SimulatedJob("B1", "B", "klein-4b", 1, 5)).ToList();

        var starts = Run(NoAffinity, jobs);

        var slotOfB = starts.ToList().FindIndex(s => s.Job.User == "B");
        // A1 already runs when B arrives; B takes the very next slot.
        Assert.Equal(1, slotOfB);
        Assert.Equal("A1 B1 A2 A3 A4 A5 A6 A7 A8 A9 A10", Order(starts));
    }

    [Fact]
    public void B_goes_second_even_when_A_queued_ten_in_the_same_instant_before_B()
    {
        var jobs = Batch("A", 10, arrival: 0, cost: 5).Concat(Batch("B", 1, arrival: 0, cost: 5)).ToList();

        var starts = Run(NoAffinity, jobs);

        Assert.InRange(starts.ToList().FindIndex(s => s.Job.User == "B"), 0, 1);
    }

    [Fact]
    public void Three_users_with_equal_jobs_interleave_round_robin()
    {
        var jobs = Batch("A", 4, 0, 3).Concat(Batch("B", 4, 0.1, 3)).Concat(Batch("C", 4, 0.2, 3)).ToList();

        var starts = Run(NoAffinity, jobs);

        Assert.Equal("A1 B1 C1 A2 B2 C2 A3 B3 C3 A4 B4 C4", Order(starts));
    }

    [Fact]
    public void Three_users_arriving_over_time_each_wait_at_most_one_job_per_other_user()
    {
        // A floods first, B arrives a little later with five, C later still with one.
        var jobs = Batch("A", 8, 0, 2).Concat(Batch("B", 5, 3, 2)).Concat(Batch("C", 1, 7, 2)).ToList();

        var starts = Run(NoAffinity, jobs);

        var c = starts.Single(s => s.Job.User == "C");
        // C arrives while someone runs; at most one job of each other user goes before it.
        Assert.True(c.StartSeconds - 7 <= 2 * 2 + 2, $"C waited {c.StartSeconds - 7}s: {Order(starts)}");
        var firstB = starts.First(s => s.Job.User == "B");
        Assert.True(firstB.StartSeconds - 3 <= 2, $"B's first job waited {firstB.StartSeconds - 3}s: {Order(starts)}");
    }

    [Fact]
    public void Whoever_used_less_GPU_time_recently_goes_first()
    {
        var snapshot = new SchedulingSnapshot(
            [new QueuedJob(Guid.NewGuid(), "heavy", "m", Epoch, 0), new QueuedJob(Guid.NewGuid(), "light", "m", Epoch.AddSeconds(30), 0)],
            new Dictionary<string, UserUsage> { ["heavy"] = new(120, Epoch.AddMinutes(-1)), ["light"] = new(10, Epoch.AddMinutes(-2)) },
            null,
            Epoch.AddMinutes(1));

        Assert.Equal("light", NoAffinity.PickNext(snapshot)!.Job.OwnerId);
    }

    [Fact]
    public void A_long_job_counts_more_than_a_short_one()
    {
        // A's jobs cost 10 s, B's 1 s: B gets several turns for each of A's.
        var jobs = Batch("A", 3, 0, 10).Concat(Batch("B", 10, 0.1, 1)).ToList();

        var starts = Run(NoAffinity, jobs);

        var secondOfA = starts.Where(s => s.Job.User == "A").ElementAt(1);
        var bBeforeIt = starts.TakeWhile(s => s != secondOfA).Count(s => s.Job.User == "B");
        Assert.True(bBeforeIt >= 5, Order(starts));
    }

    [Fact]
    public void Within_one_user_jobs_run_in_the_order_they_were_queued()
    {
        var jobs = new[] { new SimulatedJob("A1", "A", "m", 0, 1), new SimulatedJob("A2", "A", "m", 1, 1), new SimulatedJob("A3", "A", "m", 2, 1) };

        Assert.Equal("A1 A2 A3", Order(Run(NoAffinity, jobs)));
    }

    [Fact]
    public void A_job_for_the_loaded_model_goes_first_while_the_other_has_waited_less_than_the_bound()
    {
        var policy = new FairSchedulingPolicy(TimeSpan.FromSeconds(30));
        var jobs = Batch("A", 10, 0, 5, model: "klein-4b").Append(new SimulatedJob("B1", "B", "klein-9b", 0.5, 5)).ToList();

        var starts = Run(policy, jobs, loadedModel: "klein-4b");

        var b = starts.Single(s => s.Job.User == "B");
        Assert.True(b.StartSeconds > 5, "Affinity should have kept the loaded model for a while.");
        Assert.True(b.StartSeconds - 0.5 <= 30 + 5, $"B waited {b.StartSeconds - 0.5}s, more than the bound plus one job: {Order(starts)}");
        Assert.Contains(starts, s => s.Reason == PickReason.ModelAffinity);
    }

    [Fact]
    public void The_fair_choice_runs_as_soon_as_it_has_waited_the_bound()
    {
        var policy = new FairSchedulingPolicy(TimeSpan.FromSeconds(30));
        var otherModel = new QueuedJob(Guid.NewGuid(), "B", "klein-9b", Epoch, 0);
        var loadedModel = new QueuedJob(Guid.NewGuid(), "A", "klein-4b", Epoch.AddSeconds(1), 0);
        var usage = new Dictionary<string, UserUsage> { ["A"] = new(50, Epoch), ["B"] = new(0, null) };

        var before = policy.PickNext(new SchedulingSnapshot([otherModel, loadedModel], usage, "klein-4b", Epoch.AddSeconds(29.9)))!;
        var after = policy.PickNext(new SchedulingSnapshot([otherModel, loadedModel], usage, "klein-4b", Epoch.AddSeconds(30)))!;

        Assert.Equal((loadedModel, PickReason.ModelAffinity), (before.Job, before.Reason));
        Assert.Equal((otherModel, PickReason.FairShare), (after.Job, after.Reason));
    }

    [Fact]
    public void Zero_bound_turns_model_affinity_off()
    {
        var jobs = Batch("A", 5, 0, 5, model: "klein-4b").Append(new SimulatedJob("B1", "B", "klein-9b", 0.5, 5)).ToList();

        var starts = Run(NoAffinity, jobs, loadedModel: "klein-4b");

        Assert.Equal(1, starts.ToList().FindIndex(s => s.Job.User == "B"));
        Assert.DoesNotContain(starts, s => s.Reason == PickReason.ModelAffinity);
    }

    [Fact]
    public void Model_affinity_never_skips_a_job_that_has_waited_the_bound()
    {
        var bound = TimeSpan.FromSeconds(20);
        var policy = new FairSchedulingPolicy(bound);
        var users = new[] { "A", "B", "C", "D" };
        var models = new[] { "klein-4b", "klein-9b" };
        var skips = 0;
        for (var seed = 1; seed <= 20; seed++)
        {
            var random = new Random(seed);
            var jobs = Enumerable.Range(0, 120)
                .Select(i => new SimulatedJob($"J{i}", users[random.Next(users.Length)], models[random.Next(models.Length)], random.NextDouble() * 200, 1 + (random.NextDouble() * 9)))
                .ToList();

            var starts = Run(policy, jobs, loadedModel: "klein-4b");

            Assert.Equal(jobs.Count, starts.Count);
            foreach (var skip in starts.Where(s => s.Reason == PickReason.ModelAffinity))
            {
                skips++;
                Assert.True(skip.FairChoiceWaitedSeconds < bound.TotalSeconds, $"seed {seed}: {skip.Job.Name} skipped a job that had waited {skip.FairChoiceWaitedSeconds:0.0}s");
                Assert.Equal("klein-4b" == skip.FairChoice!.ModelId ? "klein-9b" : "klein-4b", skip.Job.Model);
            }
        }

        Assert.True(skips > 20, $"The scenarios should exercise affinity; only {skips} skips.");
    }

    [Fact]
    public void The_forecast_alternates_users_like_the_worker_will()
    {
        var a = Enumerable.Range(0, 3).Select(i => new QueuedJob(Guid.NewGuid(), "A", "m", Epoch.AddSeconds(i), 0, 4)).ToList();
        var b = new QueuedJob(Guid.NewGuid(), "B", "m", Epoch.AddSeconds(5), 0, 4);
        var snapshot = new SchedulingSnapshot([.. a, b], new Dictionary<string, UserUsage>(), "m", Epoch.AddSeconds(6));

        var order = QueueForecast.Order(NoAffinity, snapshot);

        Assert.Equal([a[0].Id, b.Id, a[1].Id, a[2].Id], order);
    }

    [Fact]
    public void The_same_snapshot_always_gives_the_same_pick()
    {
        var jobs = Enumerable.Range(0, 20).Select(i => new QueuedJob(Guid.NewGuid(), $"U{i % 4}", i % 2 == 0 ? "x" : "y", Epoch, i)).ToList();
        var snapshot = new SchedulingSnapshot(jobs, new Dictionary<string, UserUsage>(), "x", Epoch.AddSeconds(5));
        var policy = new FairSchedulingPolicy(TimeSpan.FromSeconds(30));

        var first = policy.PickNext(snapshot);
        var shuffled = snapshot with { Queued = [.. jobs.OrderBy(_ => Guid.NewGuid())] };

        Assert.Equal(first, policy.PickNext(shuffled));
    }
}
