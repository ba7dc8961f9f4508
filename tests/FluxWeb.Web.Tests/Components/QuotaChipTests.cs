using System.Security.Claims;
using Bunit;
using FluxWeb.Application.Jobs;
using FluxWeb.Host.Components.Layout;
using FluxWeb.Testing;

namespace FluxWeb.Web.Tests.Components;

/// <summary>The app bar's count of today's images against the daily limit, live as jobs are queued.</summary>
public sealed class QuotaChipTests : IAsyncLifetime
{
    private readonly TempFolder folder = new("fluxweb-quota-chip");
    private QueueHost host = default!;

    public async Task InitializeAsync() =>
        host = await QueueHost.StartAsync(folder.Path, new FakeImageGenerator(), new Dictionary<string, string?> { ["Quotas:Roles:User:ImagesPerDay"] = "500" }, worker: false);

    public async Task DisposeAsync()
    {
        await host.DisposeAsync();
        folder.Dispose();
    }

    [Fact]
    public async Task Counts_todays_images_against_the_limit_and_follows_new_jobs()
    {
        var ada = await host.CreateUserAsync("ada@example.com");
        await using var ctx = new BunitContext();
        var auth = ctx.AddTestServices(host.Services);
        auth.SetAuthorized("ada@example.com");
        auth.SetClaims(new Claim(ClaimTypes.NameIdentifier, ada.UserId));

        var cut = ctx.Render<QuotaChip>();
        cut.WaitForAssertion(() => Assert.Contains("0 / 500 images today", cut.Find("[data-testid=quota-chip]").TextContent, StringComparison.Ordinal));

        var queued = await host.Generation.SubmitAsync(ada.UserId, QueueHost.Request("two gulls", 2));
        Assert.True(queued.Accepted, queued.Error);
        cut.WaitForAssertion(() => Assert.Contains("2 / 500 images today", cut.Find("[data-testid=quota-chip]").TextContent, StringComparison.Ordinal));
        // It leads to the usage page, where the other two limits are.
        Assert.Equal("account/usage", cut.Find("[data-testid=quota-chip]").Closest("a")?.GetAttribute("href") ?? cut.Find("[data-testid=quota-chip]").GetAttribute("href"));
    }
}
