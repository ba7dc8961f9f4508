using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using FluxWeb.Application.Administration;
using FluxWeb.Application.ApiKeys;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.ApiKeys;
using FluxWeb.Domain.Jobs;
using FluxWeb.Persistence;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Web.Tests.Api;

/// <summary>
/// Hub connections end with what they were opened with: revoking the key or disabling the account
/// closes them at once (and within the revalidation interval when another process made the change),
/// and a page of another site cannot open one with a visitor's cookie.
/// </summary>
public sealed class JobHubSessionTests : IAsyncLifetime
{
    private readonly FakeImageGenerator engine = new();
    private FluxWebFactory factory = default!;

    public async Task InitializeAsync()
    {
        factory = new FluxWebFactory()
            .With("Accounts:Registration", "Open")
            .With("Accounts:SessionRevalidationInterval", "00:00:01")
            .With("Hub:AllowedOrigins:0", "https://tools.example.com")
            .WithEngine(engine);
        // The first account becomes the administrator; the tests use the others.
        await new SiteClient(factory.CreateBrowserClient()).RegisterAsync("admin@example.com");
    }

    public Task DisposeAsync()
    {
        factory.Dispose();
        return Task.CompletedTask;
    }

    private async Task<(string UserId, string Key)> UserWithKeyAsync(string email)
    {
        await new SiteClient(factory.CreateBrowserClient()).RegisterAsync(email);
        await using var db = await factory.Service<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();
        var userId = await db.Users.Where(u => u.Email == email).Select(u => u.Id).SingleAsync();
        var (created, error) = await factory.Service<ApiKeyService>().CreateAsync(userId, "watcher", ApiKeyScope.Generate, ChangeActor.CommandLine);
        Assert.True(created is not null, error);
        return (userId, created.Key);
    }

    private HubConnection Connect(string? key, string? origin = null) =>
        new HubConnectionBuilder()
            .WithUrl(new Uri(factory.Server.BaseAddress, "/api/v1/hub"), options =>
            {
                options.Transports = HttpTransportType.LongPolling;
                options.HttpMessageHandlerFactory = _ => factory.Server.CreateHandler();
                options.AccessTokenProvider = () => Task.FromResult(key);
                if (origin is not null)
                {
                    options.Headers["Origin"] = origin;
                }
            })
            .Build();

    /// <summary>A connected client that records its events and when it was closed.</summary>
    private async Task<(HubConnection Hub, ConcurrentQueue<JsonElement> Events, TaskCompletionSource Closed)> ListenAsync(string key)
    {
        var hub = Connect(key);
        var events = new ConcurrentQueue<JsonElement>();
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        hub.On<JsonElement>("jobEvent", e => events.Enqueue(e));
        hub.Closed += _ =>
        {
            closed.TrySetResult();
            return Task.CompletedTask;
        };
        await hub.StartAsync();
        return (hub, events, closed);
    }

    private static async Task AssertClosedWithinAsync(TaskCompletionSource closed, TimeSpan limit, string what)
    {
        try
        {
            await closed.Task.WaitAsync(limit);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"The connection was still open {limit.TotalSeconds:0} s after {what}.");
        }
    }

    private async Task AssertHearsNothingOfANewJobAsync(string userId, ConcurrentQueue<JsonElement> events)
    {
        var jobId = (await factory.Service<GenerationService>().SubmitAsync(userId, QueueHost.Request("after the end"))).JobIds.Single();
        var jobs = factory.Service<JobService>();
        await Eventually.Until(async () => (await jobs.GetAsync(new JobActor(userId, false), jobId))?.State.IsFinished() == true, "The job did not finish.");

        Assert.DoesNotContain(events, e => e.GetProperty("jobId").GetGuid() == jobId);
    }

    [Fact]
    public async Task Revoking_a_key_closes_its_open_connection_at_once()
    {
        var (userId, key) = await UserWithKeyAsync("revoked@example.com");
        var (hub, events, closed) = await ListenAsync(key);
        await using var _ = hub;

        var (revoked, error) = await factory.Service<ApiKeyService>().RevokeAsync(userId, null, "watcher", ChangeActor.Ui(userId));
        Assert.True(revoked is not null, error);

        // At once: well within one revalidation interval plus the client noticing the closed poll.
        await AssertClosedWithinAsync(closed, TimeSpan.FromSeconds(5), "the revocation");
        await AssertHearsNothingOfANewJobAsync(userId, events);
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => Connect(key).StartAsync());
    }

    [Fact]
    public async Task Disabling_the_account_closes_its_open_connections()
    {
        var (userId, key) = await UserWithKeyAsync("disabled@example.com");
        var (hub, events, closed) = await ListenAsync(key);
        await using var _ = hub;

        var result = await factory.Service<UserAdministration>().ChangeAsync(userId, new UserChange { Disabled = true }, ChangeActor.CommandLine);
        Assert.True(result.Succeeded, result.Error);

        await AssertClosedWithinAsync(closed, TimeSpan.FromSeconds(5), "disabling the account");
        Assert.Empty(events);
    }

    [Fact]
    public async Task A_key_revoked_by_another_process_closes_its_connection_within_the_revalidation_interval()
    {
        var (userId, key) = await UserWithKeyAsync("elsewhere@example.com");
        var (hub, events, closed) = await ListenAsync(key);
        await using var _ = hub;

        // What `fluxweb apikeys revoke` does from another process: the database changes, nothing is pushed to this server.
        await using (var db = await factory.Service<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync())
        {
            Assert.Equal(1, await db.ApiKeys.Where(k => k.UserId == userId).ExecuteUpdateAsync(set => set.SetProperty(k => k.RevokedUtc, DateTime.UtcNow)));
        }

        await AssertClosedWithinAsync(closed, TimeSpan.FromSeconds(10), "the revocation in the database (interval 1 s)");
        await AssertHearsNothingOfANewJobAsync(userId, events);
    }

    [Theory]
    [InlineData("https://evil.example")]
    [InlineData("http://localhost.evil.example")]
    [InlineData("null")]
    public async Task A_page_of_another_site_cannot_negotiate_with_the_hub(string origin)
    {
        var (_, key) = await UserWithKeyAsync($"origin-{Guid.NewGuid():N}@example.com");
        await using var hub = Connect(key, origin);

        var refused = await Assert.ThrowsAnyAsync<HttpRequestException>(() => hub.StartAsync());

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
    }

    [Theory]
    [InlineData("http://localhost")]
    [InlineData("https://tools.example.com")]
    public async Task This_site_and_configured_origins_may_connect(string origin)
    {
        var (_, key) = await UserWithKeyAsync($"allowed-{Guid.NewGuid():N}@example.com");
        await using var hub = Connect(key, origin);

        await hub.StartAsync();

        Assert.Equal(HubConnectionState.Connected, hub.State);
    }

    [Fact]
    public async Task A_websocket_upgrade_from_another_site_is_refused_and_one_from_this_site_accepted()
    {
        var (_, key) = await UserWithKeyAsync("socket@example.com");
        var hubUrl = new Uri(new Uri(factory.Server.BaseAddress.ToString().Replace("http", "ws", StringComparison.Ordinal)), $"/api/v1/hub?access_token={Uri.EscapeDataString(key)}");

        var foreign = factory.Server.CreateWebSocketClient();
        foreign.ConfigureRequest = request => request.Headers.Origin = "https://evil.example";
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => foreign.ConnectAsync(hubUrl, CancellationToken.None));
        Assert.Contains("403", refused.Message, StringComparison.Ordinal);

        var own = factory.Server.CreateWebSocketClient();
        own.ConfigureRequest = request => request.Headers.Origin = "http://localhost";
        using var socket = await own.ConnectAsync(hubUrl, CancellationToken.None);
        Assert.Equal(WebSocketState.Open, socket.State);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
    }
}
