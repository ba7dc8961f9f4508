using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FluxWeb.Application.Jobs;
using FluxWeb.Application.Presets;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.ApiKeys;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Web.Tests.Presets;

/// <summary>
/// <c>/api/v1/presets</c> on the real app: the cookie and keys with their scopes, isolation between accounts
/// (another person's preset answers 404 exactly like an unknown id), published presets read-only through the API.
/// </summary>
public sealed class PresetApiTests : IAsyncLifetime
{
    private FluxWebFactory factory = default!;
    private SiteClient admin = default!;
    private SiteClient ada = default!;
    private SiteClient bob = default!;
    private JobActor adaActor = default!;
    private JobActor adminActor = default!;

    public async Task InitializeAsync()
    {
        factory = new FluxWebFactory().With("Accounts:Registration", "Open").WithEngine(new FakeImageGenerator());
        admin = new SiteClient(factory.CreateBrowserClient());
        ada = new SiteClient(factory.CreateBrowserClient());
        bob = new SiteClient(factory.CreateBrowserClient());
        await admin.RegisterAsync("admin@example.com");
        await ada.RegisterAsync("ada@example.com");
        await bob.RegisterAsync("bob@example.com");
        adminActor = new JobActor(await factory.UserIdAsync("admin@example.com"), true);
        adaActor = new JobActor(await factory.UserIdAsync("ada@example.com"), false);
    }

    public Task DisposeAsync()
    {
        factory.Dispose();
        return Task.CompletedTask;
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string url, object? body = null)
    {
        var request = new HttpRequestMessage(method, url) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Add("X-FluxWeb-Request", "1");
        return client.SendAsync(request);
    }

    private static async Task<Guid> CreateAsync(HttpClient client, object body)
    {
        var response = await SendAsync(client, HttpMethod.Post, "/api/v1/presets", body);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private static async Task<string> ProblemAsync(HttpResponseMessage response) =>
        System.Text.RegularExpressions.Regex.Replace(await response.Content.ReadAsStringAsync(), "\"traceId\":\"[^\"]*\"", "");

    [Fact]
    public async Task A_person_saves_lists_applies_renames_changes_and_deletes_their_presets()
    {
        var id = await CreateAsync(ada.Http, new { name = "Portrait", promptTemplate = "A portrait of {prompt}, oil painting", model = QueueHost.ModelId, width = 832, height = 1216 });

        var listed = await ada.Http.GetFromJsonAsync<JsonElement>("/api/v1/presets");
        Assert.Equal("Portrait", listed.EnumerateArray().Single().GetProperty("name").GetString());
        var applied = await SendAsync(ada.Http, HttpMethod.Post, $"/api/v1/presets/{id}/apply", new { prompt = "a fox", width = 512, height = 512 });
        var settings = await applied.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("A portrait of a fox, oil painting", settings.GetProperty("prompt").GetString());
        Assert.Equal((QueueHost.ModelId, 832, 1216), (settings.GetProperty("model").GetString(), settings.GetProperty("width").GetInt32(), settings.GetProperty("height").GetInt32()));
        Assert.Empty(settings.GetProperty("leftOut").EnumerateArray());

        var renamed = await SendAsync(ada.Http, HttpMethod.Patch, $"/api/v1/presets/{id}", new { name = "Oil portrait" });
        Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        var refused = await SendAsync(ada.Http, HttpMethod.Put, $"/api/v1/presets/{id}", new { name = "Oil portrait", width = 1000, height = 512 });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("use 992 or 1008", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var changed = await SendAsync(ada.Http, HttpMethod.Put, $"/api/v1/presets/{id}", new { name = "Oil portrait", promptTemplate = "oil painting", negativePrompt = "text" });
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        var stored = await factory.WithDbAsync(db => db.Presets.AsNoTracking().SingleAsync());
        Assert.Equal(("Oil portrait", "oil painting", "text", (string?)null, (int?)null), (stored.Name, stored.PromptTemplate, stored.NegativePrompt, stored.ModelId, stored.Width));
        // Its negative prompt goes with a script's model only when that model reads one (klein-test is distilled).
        var styled = await (await SendAsync(ada.Http, HttpMethod.Post, $"/api/v1/presets/{id}/apply", new { prompt = "a fox", negativePrompt = "mine" })).Content.ReadFromJsonAsync<JsonElement>();
        var onDistilled = await (await SendAsync(ada.Http, HttpMethod.Post, $"/api/v1/presets/{id}/apply", new { prompt = "a fox", model = QueueHost.ModelId, negativePrompt = "mine" })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(("text", "mine"), (styled.GetProperty("negativePrompt").GetString(), onDistilled.GetProperty("negativePrompt").GetString()));
        Assert.Contains("takes no negative prompt", onDistilled.GetProperty("leftOut")[0].GetString(), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(ada.Http, HttpMethod.Delete, $"/api/v1/presets/{id}")).StatusCode);
        Assert.Empty((await ada.Http.GetFromJsonAsync<JsonElement>("/api/v1/presets")).EnumerateArray());
    }

    [Fact]
    public async Task Another_persons_preset_answers_404_exactly_like_an_unknown_one_and_stays_as_it_was()
    {
        var id = await CreateAsync(ada.Http, new { name = "Ada's", promptTemplate = "secret sauce" });
        var unknown = Guid.NewGuid();
        var calls = new (HttpMethod Method, string Suffix, object? Body)[]
        {
            (HttpMethod.Get, "", null),
            (HttpMethod.Put, "", new { name = "Bob's now", promptTemplate = "x" }),
            (HttpMethod.Patch, "", new { name = "Bob's now" }),
            (HttpMethod.Post, "/apply", new { prompt = "a fox" }),
            (HttpMethod.Delete, "", null),
        };
        foreach (var (method, suffix, body) in calls)
        {
            var theirs = await SendAsync(bob.Http, method, $"/api/v1/presets/{id}{suffix}", body);
            var none = await SendAsync(bob.Http, method, $"/api/v1/presets/{unknown}{suffix}", body);
            Assert.True(theirs.StatusCode == HttpStatusCode.NotFound, $"{method} {suffix}: {(int)theirs.StatusCode}");
            Assert.Equal(await ProblemAsync(none), await ProblemAsync(theirs));
        }

        Assert.Empty((await bob.Http.GetFromJsonAsync<JsonElement>("/api/v1/presets")).EnumerateArray());
        var stored = await factory.WithDbAsync(db => db.Presets.AsNoTracking().SingleAsync());
        Assert.Equal(("Ada's", "secret sauce", adaActor.UserId), (stored.Name, stored.PromptTemplate, stored.OwnerId));
    }

    [Fact]
    public async Task A_read_key_lists_and_applies_but_only_a_generate_key_saves()
    {
        var id = await CreateAsync(ada.Http, new { name = "Noir", promptTemplate = "film noir" });
        using var reader = factory.KeyClient(await factory.CreateKeyAsync(adaActor.UserId, "reader", ApiKeyScope.Read));
        using var writer = factory.KeyClient(await factory.CreateKeyAsync(adaActor.UserId, "writer", ApiKeyScope.Generate));

        Assert.Single((await reader.GetFromJsonAsync<JsonElement>("/api/v1/presets")).EnumerateArray());
        var applied = await reader.PostAsJsonAsync($"/api/v1/presets/{id}/apply", new { prompt = "a street" });
        Assert.Equal("a street, film noir", (await applied.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("prompt").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostAsJsonAsync("/api/v1/presets", new { name = "Read only", promptTemplate = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.DeleteAsync($"/api/v1/presets/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await writer.PostAsJsonAsync("/api/v1/presets", new { name = "Scripted", promptTemplate = "x" })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await factory.CreateClient().GetAsync("/api/v1/presets")).StatusCode);
    }

    [Fact]
    public async Task A_published_preset_is_listed_to_everyone_and_read_only_through_the_api_even_with_an_administrators_key()
    {
        var presets = factory.Service<PresetService>();
        var house = (await presets.CreateAsync(adminActor, new PresetDraft { Name = "House", PromptTemplate = "house style" })).Value!;
        var published = await presets.PublishAsync(adminActor, house.Id, null, "ui");
        Assert.True(published.Succeeded, published.Error);
        using var adminKey = factory.KeyClient(await factory.CreateKeyAsync(adminActor.UserId, "admin script", ApiKeyScope.Generate));

        var bobs = (await bob.Http.GetFromJsonAsync<JsonElement>("/api/v1/presets")).EnumerateArray().Single();
        Assert.Equal(("House", true, false), (bobs.GetProperty("name").GetString(), bobs.GetProperty("isPublished").GetBoolean(), bobs.GetProperty("isMine").GetBoolean()));
        var byBob = await SendAsync(bob.Http, HttpMethod.Delete, $"/api/v1/presets/{published.Value!.Id}");
        var byKey = await adminKey.PatchAsJsonAsync($"/api/v1/presets/{published.Value.Id}", new { name = "Renamed by a script" });

        Assert.Equal(HttpStatusCode.Forbidden, byBob.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, byKey.StatusCode);
        Assert.Contains("changed by administrators", await byKey.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.True(await factory.WithDbAsync(db => db.Presets.AnyAsync(p => p.OwnerId == null && p.Name == "House")));
    }
}
