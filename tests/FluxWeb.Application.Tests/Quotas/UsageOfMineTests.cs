using FluxWeb.Application.Quotas;
using FluxWeb.Persistence.Quotas;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace FluxWeb.Application.Tests.Quotas;

/// <summary>A person's own usage view: today's use against their limits (with what waiting jobs hold), and their own days only.</summary>
public sealed class UsageOfMineTests : IDisposable
{
    private readonly TempFolder folder = new("fluxweb-usage");

    public void Dispose() => folder.Dispose();

    [Fact]
    public async Task Today_counts_against_the_limits_and_the_history_holds_only_this_persons_recent_days()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 3, 10, 23, 0, 0, TimeSpan.Zero));
        var settings = new Dictionary<string, string?>
        {
            ["Quotas:Roles:User:ImagesPerDay"] = "10",
            ["Quotas:Roles:User:GpuSecondsPerDay"] = "100",
            ["Quotas:Roles:User:MaxQueuedJobs"] = "5",
        };
        await using var host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), settings, clock, worker: false);
        var ada = await host.CreateUserAsync("ada@example.com");
        var bob = await host.CreateUserAsync("bob@example.com");
        var today = new DateOnly(2026, 3, 10);
        await host.WithDbAsync(async db =>
        {
            db.DailyUsage.AddRange(
                new DailyUsage { UserId = ada.UserId, Day = today.AddDays(-3), Images = 4, GpuSeconds = 12.5, Rejected = 1 },
                new DailyUsage { UserId = ada.UserId, Day = today.AddDays(-30), Images = 9, GpuSeconds = 30 },
                new DailyUsage { UserId = bob.UserId, Day = today, Images = 7, GpuSeconds = 70 });
            return await db.SaveChangesAsync();
        });
        Assert.True((await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("two waiting", count: 2))).Accepted);
        Assert.False((await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("no such model", model: "not-installed"))).Accepted);
        // Estimates come from recent jobs of the model; this box has none yet, so they are set here.
        await host.WithDbAsync(db => db.Jobs.ExecuteUpdateAsync(set => set.SetProperty(j => j.EstimatedGpuSeconds, 7.5)));

        var usage = await host.Services.GetRequiredService<QuotaService>().GetUsageOfMineAsync(ada.UserId, 30);

        Assert.Equal((today, 2, 0.0, 2), (usage.Today.Day, usage.Today.ImagesUsed, usage.Today.GpuSecondsUsed, usage.Today.QueuedJobs));
        Assert.Equal((10, 100.0, 5), (usage.Today.Limits.ImagesPerDay, usage.Today.Limits.GpuSecondsPerDay, usage.Today.Limits.MaxQueuedJobs));
        Assert.Equal(new DateTimeOffset(2026, 3, 11, 0, 0, 0, TimeSpan.Zero), usage.Today.ResetsAtUtc);
        Assert.Equal(15, usage.GpuSecondsHeld, precision: 6);
        Assert.Equal("UTC", usage.TimeZone);
        // Newest first; the day 30 days back is outside "the last 30 days" (today is one of them); Bob's day is his.
        Assert.Equal(
            [new UsageDayOfMine(today, 2, 0, 1), new UsageDayOfMine(today.AddDays(-3), 4, 12.5, 1)],
            usage.Days);
        Assert.Equal(3, (await host.Services.GetRequiredService<QuotaService>().GetUsageOfMineAsync(ada.UserId, 31)).Days.Count);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => host.Services.GetRequiredService<QuotaService>().GetUsageOfMineAsync(ada.UserId, 0));
    }
}
