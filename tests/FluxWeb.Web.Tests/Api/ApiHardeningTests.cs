using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FluxWeb.Application.ApiKeys;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.ApiKeys;
using FluxWeb.Inference.Pipeline;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Web.Tests.Api;

/// <summary>Issue 19, finding 10 (the API half): paging past the end, and unhandled errors under /api.</summary>
public sealed class ApiHardeningTests : IAsyncLifetime
{
    private readonly BrokenEngine engine = new();
    private FluxWebFactory factory = default!;
    private SiteClient ada = default!;
    private string adaId = "";

    public async Task InitializeAsync()
    {
        factory = new FluxWebFactory().With("Accounts:Registration", "Open").WithEngine(engine);
        ada = new SiteClient(factory.CreateBrowserClient());
        await ada.RegisterAsync("ada@example.com");
        await using var scope = factory.Services.CreateAsyncScope();
        adaId = (await scope.ServiceProvider.GetRequiredService<UserManager<FluxWeb.Persistence.Accounts.FluxUser>>().FindByEmailAsync("ada@example.com"))!.Id;
    }

    public Task DisposeAsync()
    {
        factory.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_page_far_past_the_end_is_empty_and_never_wraps_around_to_the_first()
    {
        var rows = new GalleryRows(factory.Services);
        var actor = new JobActor(adaId, false);
        for (var i = 0; i < 3; i++)
        {
            await rows.AddOutputAsync(actor, $"image {i}", DateTime.UtcNow.AddMinutes(-i));
        }

        // page × pageSize overflowed 32 bits: 2147483647 × 50 wrapped to −50 (served as the first page), 1431655766 × 3 to 2.
        foreach (var (page, pageSize) in new[] { (2147483647, 50), (1431655766, 3), (1, 3) })
        {
            var body = await ada.Http.GetFromJsonAsync<JsonElement>($"/api/v1/images?page={page}&pageSize={pageSize}");
            Assert.Empty(body.GetProperty("items").EnumerateArray());
            Assert.Equal(3, body.GetProperty("total").GetInt32());
            Assert.Equal(page, body.GetProperty("page").GetInt32());
        }

        var first = await ada.Http.GetFromJsonAsync<JsonElement>("/api/v1/images?page=0&pageSize=3");
        Assert.Equal(3, first.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task An_unhandled_error_under_api_answers_problem_json_not_the_error_page()
    {
        var (key, error) = await factory.Service<ApiKeyService>().CreateAsync(adaId, "script", ApiKeyScope.Generate, ChangeActor.CommandLine);
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key?.Key ?? throw new InvalidOperationException(error));

        var response = await client.PostAsJsonAsync("/api/v1/generations", new { model = QueueHost.ModelId, prompt = "anything" });

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        using var problem = JsonDocument.Parse(body);
        Assert.Equal(500, problem.RootElement.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.RootElement.GetProperty("title").GetString()));
        // The request id lets an administrator find the details in the log; the details themselves stay there.
        Assert.Equal(response.Headers.GetValues("X-Request-Id").Single(), problem.RootElement.GetProperty("requestId").GetString());
        Assert.DoesNotContain(BrokenEngine.Secret, body, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
        Assert.Contains(factory.Logs.Lines, line => line.Contains(BrokenEngine.Secret, StringComparison.Ordinal));

        // People still get the error page.
        var page = await ada.Http.GetAsync("/Error");
        Assert.Contains("text/html", page.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
    }

    /// <summary>An engine whose request check fails the way a bug would: with an exception nobody expected.</summary>
    private sealed class BrokenEngine : IImageGenerator
    {
        public const string Secret = "internal detail that must stay in the log";

        public ResolvedGeneration Validate(GenerationRequest request) => throw new InvalidOperationException(Secret);

        public Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken) =>
            throw new InvalidOperationException(Secret);
    }
}
