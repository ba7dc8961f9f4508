using System.Collections.Concurrent;
using System.Text.Json;
using FluxWeb.Application.Jobs;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

namespace FluxWeb.Web.Tests.Api;

/// <summary>The job hub for API clients: a key's connection gets its own account's job events, never anyone else's.</summary>
public sealed class JobHubTests(ApiScenario scenario) : IClassFixture<ApiScenario>
{
    private HubConnection Connect(string? key) =>
        new HubConnectionBuilder()
            .WithUrl(new Uri(scenario.Factory.Server.BaseAddress, "/api/v1/hub"), options =>
            {
                // The test server has no sockets: long polling through its in-memory handler, the key as access_token.
                options.Transports = HttpTransportType.LongPolling;
                options.HttpMessageHandlerFactory = _ => scenario.Factory.Server.CreateHandler();
                options.AccessTokenProvider = () => Task.FromResult(key);
            })
            .Build();

    [Fact]
    public async Task A_key_client_receives_its_own_job_events_and_none_of_another_users()
    {
        var adaEvents = new ConcurrentQueue<JsonElement>();
        var bobEvents = new ConcurrentQueue<JsonElement>();
        await using var ada = Connect(scenario.AdaKey);
        await using var bob = Connect(scenario.BobKey);
        ada.On<JsonElement>("jobEvent", e => adaEvents.Enqueue(e));
        bob.On<JsonElement>("jobEvent", e => bobEvents.Enqueue(e));
        await ada.StartAsync();
        await bob.StartAsync();

        var jobId = (await scenario.Factory.Service<GenerationService>().SubmitAsync(scenario.AdaId, QueueHost.Request("watched over the hub"))).JobIds.Single();
        await scenario.WaitForEndAsync(scenario.AdaId, jobId);
        await Eventually.Until(
            () => adaEvents.Any(e => e.GetProperty("jobId").GetGuid() == jobId && e.GetProperty("kind").GetString() == "Succeeded"),
            () => $"Ada's client saw: {string.Join(", ", adaEvents.Select(e => e.GetProperty("kind").GetString()))}");

        var kinds = adaEvents.Where(e => e.GetProperty("jobId").GetGuid() == jobId).Select(e => e.GetProperty("kind").GetString()).ToList();
        Assert.Contains("Queued", kinds);
        Assert.Contains("Started", kinds);
        Assert.Contains("Progress", kinds);
        var done = adaEvents.Last(e => e.GetProperty("jobId").GetGuid() == jobId);
        Assert.StartsWith("/api/v1/images/", done.GetProperty("outputUrl").GetString(), StringComparison.Ordinal);
        Assert.False(done.TryGetProperty("ownerId", out _));

        // Bob's connection was open the whole time and heard nothing of Ada's job: his own job comes after hers,
        // and once his connection has its end, anything of Ada's sent to it would have come first.
        var bobsJob = (await scenario.Factory.Service<GenerationService>().SubmitAsync(scenario.BobId, QueueHost.Request("bob's own"))).JobIds.Single();
        await Eventually.Until(
            () => bobEvents.Any(e => e.GetProperty("jobId").GetGuid() == bobsJob && e.GetProperty("kind").GetString() == "Succeeded"),
            () => $"Bob's client saw: {string.Join(", ", bobEvents.Select(e => e.GetProperty("kind").GetString()))}");
        Assert.DoesNotContain(bobEvents, e => e.GetProperty("jobId").GetGuid() == jobId);
    }

    [Fact]
    public async Task Connecting_without_a_valid_key_is_refused()
    {
        await using var anonymous = Connect(null);
        await using var revoked = Connect("fw_notakey0000000000000000000000000000000000000000000");

        await Assert.ThrowsAnyAsync<HttpRequestException>(() => anonymous.StartAsync());
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => revoked.StartAsync());
    }
}
