using System.Security.Claims;
using Bunit;
using FluxWeb.Host.Components.Pages.Usage;
using FluxWeb.Persistence.Quotas;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Time.Testing;

namespace FluxWeb.Web.Tests.Components;

/// <summary>The account's usage page: today's three limits with what is left, and the person's own last 30 days.</summary>
public sealed class MyUsagePageTests : IAsyncLifetime
{
    private readonly TempFolder folder = new("fluxweb-my-usage");
    private readonly FakeTimeProvider clock = new(new DateTimeOffset(2026, 3, 10, 15, 0, 0, TimeSpan.Zero));
    private QueueHost host = default!;

    public async Task InitializeAsync() => host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), new Dictionary<string, string?>
    {
        ["Quotas:Roles:User:ImagesPerDay"] = "10",
        ["Quotas:Roles:User:GpuSecondsPerDay"] = "100",
        ["Quotas:Roles:User:MaxQueuedJobs"] = "",
        ["Quotas:TimeZone"] = "Europe/Berlin",
    }, clock, worker: false);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    [Fact]
    public async Task The_page_shows_todays_use_against_each_limit_and_the_persons_own_days()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        var bob = await host.CreateUserAsync("bob@example.com");
        var today = new DateOnly(2026, 3, 10);
        await host.WithDbAsync(async db =>
        {
            db.DailyUsage.AddRange(
                new DailyUsage { UserId = ada.UserId, Day = today.AddDays(-2), Images = 8, GpuSeconds = 91.5, Rejected = 2 },
                new DailyUsage { UserId = bob.UserId, Day = today.AddDays(-1), Images = 5, GpuSeconds = 50 });
            return await db.SaveChangesAsync();
        });
        Assert.True((await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("a quiet harbour", count: 3))).Accepted);
        await host.WithDbAsync(db => db.Jobs.ExecuteUpdateAsync(set => set.SetProperty(j => j.EstimatedGpuSeconds, 30)));
        await using var ctx = new BunitContext();
        var auth = ctx.AddTestServices(host.Services);
        auth.SetAuthorized("ada@example.com");
        auth.SetClaims(new Claim(ClaimTypes.NameIdentifier, ada.UserId));

        var cut = ctx.Render<MyUsage>();

        cut.WaitForAssertion(() => Assert.Contains("Images: 3 of 10 (7 left)", cut.Find("[data-testid=usage-images]").TextContent, StringComparison.Ordinal));
        Assert.Contains("GPU-seconds: 0 of 100 (100 left), about 90 more held by your waiting and running jobs", cut.Find("[data-testid=usage-gpu]").TextContent, StringComparison.Ordinal);
        Assert.Contains("Jobs waiting: 3 (no limit)", cut.Find("[data-testid=usage-queued]").TextContent, StringComparison.Ordinal);
        // Berlin's quota day starts at midnight there: 23:00 UTC in March.
        Assert.Equal("The counts start again at 2026-03-11 00:00 Europe/Berlin (23:00 UTC).", cut.Find("[data-testid=usage-resets]").TextContent.Trim());
        Assert.Equal(["2026-03-10", "2026-03-08"], cut.FindAll("[data-testid=usage-day]").Select(d => d.GetAttribute("data-day")!));
        Assert.Equal("11", cut.Find("[data-testid=usage-total-images]").TextContent.Trim());
        Assert.Contains("91.5", cut.Find("[data-testid=usage-days]").TextContent, StringComparison.Ordinal);
    }
}
