using FluxWeb.Application.Jobs;
using FluxWeb.Application.Quotas;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence.Quotas;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace FluxWeb.Application.Tests.Quotas;

/// <summary>Quotas on a fake clock, each scenario on both queue topologies: the single box, and three silos of one cluster.</summary>
public sealed class QuotaTests : IDisposable
{
    private static readonly DateTimeOffset LateEvening = new(2026, 3, 10, 23, 0, 0, TimeSpan.Zero);

    private readonly TempFolder folder = new("fluxweb-quota");
    private readonly FakeImageGenerator engine = new();
    private readonly FakeTimeProvider clock = new(LateEvening);

    public void Dispose() => folder.Dispose();

    private Task<QueueCluster> StartAsync(QueueTopology topology, Dictionary<string, string?> settings, bool worker = false, string? path = null) =>
        QueueCluster.StartAsync(topology, path ?? folder.Path, engine, settings, clock, worker);

    private static Dictionary<string, string?> Limits(int? images = null, int? queued = null, double? gpuSeconds = null) => new()
    {
        ["Quotas:Roles:User:ImagesPerDay"] = images?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "1000000",
        ["Quotas:Roles:User:MaxQueuedJobs"] = queued?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "1000000",
        ["Quotas:Roles:User:GpuSecondsPerDay"] = gpuSeconds?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "1000000",
    };

    private static async Task<SubmitResult[]> SubmitInParallelAsync(QueueCluster host, JobActor user, int count) =>
        await Task.WhenAll(Enumerable.Range(0, count).Select(i => Task.Run(() => host.Generation.SubmitAsync(user.UserId, QueueHost.Request($"parallel {i}")))));

    [Theory]
    [QueueTopologies]
    public async Task Fifty_parallel_requests_never_exceed_a_daily_image_quota_of_five(QueueTopology topology)
    {
        await using var host = await StartAsync(topology, Limits(images: 5));
        var user = await host.CreateUserAsync("ada@example.com");

        var results = await SubmitInParallelAsync(host, user, 50);

        Assert.Equal(5, results.Count(r => r.Accepted));
        Assert.All(results.Where(r => !r.Accepted), r => Assert.Equal(QuotaLimitKind.ImagesPerDay, r.Refusal!.Limit));
        Assert.Equal(5, await host.WithDbAsync(db => db.Jobs.CountAsync()));
        Assert.Equal(5, await host.WithDbAsync(db => db.DailyUsage.Where(u => u.UserId == user.UserId).SumAsync(u => u.Images)));
    }

    [Theory]
    [QueueTopologies]
    public async Task Fifty_parallel_requests_never_exceed_five_queued_jobs(QueueTopology topology)
    {
        await using var host = await StartAsync(topology, Limits(queued: 5));
        var user = await host.CreateUserAsync("ada@example.com");

        var results = await SubmitInParallelAsync(host, user, 50);

        Assert.Equal(5, results.Count(r => r.Accepted));
        var refusal = results.First(r => !r.Accepted).Refusal!;
        Assert.Equal(QuotaLimitKind.MaxQueuedJobs, refusal.Limit);
        Assert.Null(refusal.ResetsAtUtc);
        Assert.Contains("at most 5 may wait at once", refusal.Message, StringComparison.Ordinal);
        Assert.Equal(5, await host.WithDbAsync(db => db.Jobs.CountAsync(j => j.State == JobState.Queued)));
    }

    [Theory]
    [QueueTopologies]
    public async Task Two_processes_on_one_database_still_cannot_overshoot(QueueTopology topology)
    {
        // Two hosts stand in for two processes: separate in-process locks, one database (on three silos, the two
        // start on one data folder and so join one cluster of six; submissions go in on each one's first silo).
        await using var first = await StartAsync(topology, Limits(images: 5));
        await using var second = await StartAsync(topology, Limits(images: 5));
        var user = await first.CreateUserAsync("ada@example.com");

        var results = await Task.WhenAll(SubmitInParallelAsync(first, user, 25), SubmitInParallelAsync(second, user, 25));

        Assert.Equal(5, results.SelectMany(r => r).Count(r => r.Accepted));
        Assert.Equal(5, await first.WithDbAsync(db => db.Jobs.CountAsync()));
    }

    [Theory]
    [QueueTopologies]
    public async Task The_image_quota_resets_at_the_configured_day_boundary_and_says_when(QueueTopology topology)
    {
        await using var host = await StartAsync(topology, Limits(images: 2));
        var user = await host.CreateUserAsync("ada@example.com");
        Assert.True((await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("one", count: 2))).Accepted);

        var refused = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("three"));
        Assert.False(refused.Accepted);
        Assert.Equal(QuotaLimitKind.ImagesPerDay, refused.Refusal!.Limit);
        Assert.Equal(new DateTimeOffset(2026, 3, 11, 0, 0, 0, TimeSpan.Zero), refused.Refusal.ResetsAtUtc);
        Assert.Contains("2 of 2 images used today", refused.Error, StringComparison.Ordinal);
        Assert.Contains("resets at 2026-03-11 00:00 UTC", refused.Error, StringComparison.Ordinal);

        clock.Advance(TimeSpan.FromMinutes(59));
        Assert.False((await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("still today"))).Accepted);
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.True((await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("tomorrow"))).Accepted);
    }

    [Theory]
    [QueueTopologies]
    public async Task A_day_can_start_at_another_hour_in_another_time_zone(QueueTopology topology)
    {
        var settings = Limits(images: 1);
        settings["Quotas:TimeZone"] = "Europe/Berlin";
        settings["Quotas:DayStartsAt"] = "06:00:00";
        clock.SetUtcNow(new DateTimeOffset(2026, 7, 1, 3, 0, 0, TimeSpan.Zero)); // 05:00 in Berlin (summer time)
        await using var host = await StartAsync(topology, settings);
        var quotaClock = host.Services.GetRequiredService<QuotaClock>();

        Assert.Equal(new DateOnly(2026, 6, 30), quotaClock.Today);
        Assert.Equal(new DateTimeOffset(2026, 7, 1, 4, 0, 0, TimeSpan.Zero), quotaClock.NextReset);
        var user = await host.CreateUserAsync("ada@example.com");
        Assert.True((await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("before six"))).Accepted);
        var refused = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("still before six"));
        Assert.Contains("2026-07-01 06:00 Europe/Berlin (04:00 UTC)", refused.Error, StringComparison.Ordinal);

        clock.Advance(TimeSpan.FromHours(1));
        Assert.True((await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("after six"))).Accepted);
    }

    [Theory]
    [QueueTopologies]
    public async Task Gpu_seconds_are_charged_from_measured_time_and_then_refuse_with_the_reset(QueueTopology topology)
    {
        engine.Clock = clock;
        engine.SimulatedStepTime = TimeSpan.FromSeconds(1.5);
        await using var host = await StartAsync(topology, Limits(gpuSeconds: 10), worker: true);
        var user = await host.CreateUserAsync("ada@example.com");

        var first = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("measured"));
        var job = await host.WaitForEndAsync(first.JobIds[0]);

        Assert.Equal(JobState.Succeeded, job.State);
        Assert.Equal(6.0, job.GpuSeconds, precision: 6);
        var usage = await host.WithDbAsync(db => db.DailyUsage.SingleAsync(u => u.UserId == user.UserId));
        Assert.Equal(6.0, usage.GpuSeconds, precision: 6);

        // The next job is expected to cost what the last one measured: 6 + 6 > 10.
        var second = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("too much"));
        Assert.Equal(QuotaLimitKind.GpuSecondsPerDay, second.Refusal!.Limit);
        Assert.Contains("6 of 10 GPU-seconds used today", second.Error, StringComparison.Ordinal);
        Assert.NotNull(second.Refusal.ResetsAtUtc);
    }

    [Theory]
    [QueueTopologies]
    public async Task Failed_and_cancelled_jobs_give_their_image_back(QueueTopology topology)
    {
        engine.FailAt = (request, step) => request.Prompt == "doomed" && step == 2 ? FakeImageGenerator.OutOfMemory() : null;
        await using var host = await StartAsync(topology, Limits(images: 2), worker: true);
        var user = await host.CreateUserAsync("ada@example.com");

        var doomed = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("doomed"));
        await host.WaitForEndAsync(doomed.JobIds[0]);
        var kept = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("kept"));
        await host.WaitForEndAsync(kept.JobIds[0]);
        var third = await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("fits again"));

        Assert.True(third.Accepted, third.Error);
        var status = await host.Services.GetRequiredService<QuotaService>().GetStatusAsync(user.UserId);
        Assert.Equal(2, status.ImagesUsed);
    }

    [Theory]
    [QueueTopologies]
    public async Task A_user_override_replaces_the_role_default_and_negative_means_unlimited(QueueTopology topology)
    {
        await using var host = await StartAsync(topology, Limits(images: 1));
        var limited = await host.CreateUserAsync("limited@example.com");
        var unlimited = await host.CreateUserAsync("unlimited@example.com");
        var admin = await host.CreateUserAsync("admin@example.com", Roles.Admin);
        await host.WithDbAsync(async db =>
        {
            db.UserQuotas.Add(new UserQuota { UserId = limited.UserId, ImagesPerDay = 0 });
            db.UserQuotas.Add(new UserQuota { UserId = unlimited.UserId, ImagesPerDay = -1 });
            return await db.SaveChangesAsync();
        });

        Assert.Equal(QuotaLimitKind.ImagesPerDay, (await host.Generation.SubmitAsync(limited.UserId, QueueHost.Request("none"))).Refusal?.Limit);
        Assert.True((await host.Generation.SubmitAsync(unlimited.UserId, QueueHost.Request("many", count: 8))).Accepted);
        Assert.True((await host.Generation.SubmitAsync(admin.UserId, QueueHost.Request("admin", count: 8))).Accepted);
    }

    [Fact]
    public void The_defaults_are_limited_for_users_and_unlimited_for_admins()
    {
        var defaults = new QuotaOptions();

        Assert.NotNull(defaults.Roles.User.ImagesPerDay);
        Assert.NotNull(defaults.Roles.User.GpuSecondsPerDay);
        Assert.NotNull(defaults.Roles.User.MaxQueuedJobs);
        Assert.Null(defaults.Roles.Admin.ImagesPerDay);
        Assert.Null(defaults.Roles.Admin.GpuSecondsPerDay);
        Assert.Null(defaults.Roles.Admin.MaxQueuedJobs);
    }

    [Theory]
    [QueueTopologies]
    public async Task An_empty_limit_in_configuration_means_unlimited(QueueTopology topology)
    {
        var settings = Limits(images: 1);
        settings["Quotas:Roles:User:ImagesPerDay"] = "";
        await using var host = await StartAsync(topology, settings);
        var user = await host.CreateUserAsync("ada@example.com");

        Assert.Null(host.Services.GetRequiredService<IOptions<QuotaOptions>>().Value.Roles.User.ImagesPerDay);
        Assert.True((await host.Generation.SubmitAsync(user.UserId, QueueHost.Request("no image limit", count: 8))).Accepted);
    }

    [Theory]
    [QueueTopologies]
    public async Task An_unknown_time_zone_stops_the_start_with_the_key_name(QueueTopology topology)
    {
        var settings = Limits();
        settings["Quotas:TimeZone"] = "Mars/Olympus_Mons";

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(topology, settings));

        Assert.Contains("Quotas:TimeZone", error.Message, StringComparison.Ordinal);
    }
}
