using FluxWeb.Application.Scheduling;

namespace FluxWeb.Application.Tests.Scheduling;

public sealed class DispatchPlannerTests
{
    private static readonly DateTime Now = new(2026, 12, 4, 12, 0, 0, DateTimeKind.Utc);
    private static readonly FairSchedulingPolicy Policy = new(TimeSpan.FromSeconds(30));

    private static QueuedJob Job(string name, string owner, string model, int secondsAgo) =>
        new(new Guid(name.PadLeft(32, '0')), owner, model, Now.AddSeconds(-secondsAgo), 0, 5);

    private static SchedulingSnapshot Snapshot(IEnumerable<QueuedJob> queued, Dictionary<string, UserUsage>? usage = null) =>
        new([.. queued], usage ?? new Dictionary<string, UserUsage>(StringComparer.Ordinal), null, Now);

    private static string Describe(IEnumerable<WorkerAssignment> plan) =>
        string.Join(" ", plan.Select(a => $"{a.WorkerId}:{a.Decision.Job.Id.ToString("N").TrimStart('0')}"));

    [Fact]
    public void Nothing_is_planned_without_a_free_worker_or_a_queued_job()
    {
        Assert.Empty(DispatchPlanner.Plan(Policy, Snapshot([Job("a1", "ada", "m", 5)]), [new IdleWorker("w", null, 0, null)]));
        Assert.Empty(DispatchPlanner.Plan(Policy, Snapshot([]), [new IdleWorker("w", null, 1, null)]));
    }

    [Fact]
    public void Each_job_goes_to_the_idle_worker_that_has_its_model_loaded()
    {
        var plan = DispatchPlanner.Plan(
            Policy,
            Snapshot([Job("a1", "ada", "x", 10), Job("b1", "bob", "y", 9)]),
            [new IdleWorker("wy", "y", 1, Now.AddMinutes(-5)), new IdleWorker("wx", "x", 1, Now.AddMinutes(-1))]);

        Assert.Equal("wx:a1 wy:b1", Describe(plan));
    }

    [Fact]
    public void Without_a_worker_for_its_model_the_least_recently_used_worker_takes_the_job()
    {
        var plan = DispatchPlanner.Plan(
            Policy,
            Snapshot([Job("a1", "ada", "z", 60)]),
            [new IdleWorker("recent", "x", 1, Now.AddMinutes(-1)), new IdleWorker("old", "y", 1, Now.AddMinutes(-9))]);

        Assert.Equal("old:a1", Describe(plan));
    }

    [Fact]
    public void Several_free_slots_at_once_still_alternate_between_users()
    {
        var queued = Enumerable.Range(1, 4).Select(i => Job($"a{i}", "ada", "m", 20 - i))
            .Concat(Enumerable.Range(1, 2).Select(i => Job($"b{i}", "bob", "m", 10 - i)));

        var plan = DispatchPlanner.Plan(Policy, Snapshot(queued), [new IdleWorker("w1", "m", 2, null), new IdleWorker("w2", "m", 2, null)]);

        Assert.Equal(["a1", "b1", "a2", "b2"], plan.Select(a => a.Decision.Job.Id.ToString("N").TrimStart('0')));
        Assert.Equal(2, plan.Count(a => a.WorkerId == "w1"));
        Assert.Equal(2, plan.Count(a => a.WorkerId == "w2"));
    }

    [Fact]
    public void A_worker_keeps_its_model_while_the_fair_job_for_another_may_still_wait()
    {
        // Bob is owed the turn, but his job for model y is young; the only free worker has x loaded and Ada has an x job.
        var usage = new Dictionary<string, UserUsage>(StringComparer.Ordinal) { ["ada"] = new(100, Now.AddSeconds(-5)) };
        var plan = DispatchPlanner.Plan(
            Policy,
            Snapshot([Job("a1", "ada", "x", 20), Job("b1", "bob", "y", 3)], usage),
            [new IdleWorker("wx", "x", 1, Now.AddMinutes(-1))]);

        var only = Assert.Single(plan);
        Assert.Equal(("wx", PickReason.ModelAffinity), (only.WorkerId, only.Decision.Reason));
        Assert.Equal("a1", only.Decision.Job.Id.ToString("N").TrimStart('0'));
    }
}
