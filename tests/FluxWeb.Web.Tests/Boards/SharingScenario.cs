using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using FluxWeb.Application.ApiKeys;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.ApiKeys;
using FluxWeb.Domain.Images;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Web.Tests.Boards;

/// <summary>
/// A team on one server: Ada (NonCommercial) shares; Bob (NonCommercial) and Corp (Commercial) are teammates; Eve
/// is a stranger to everything not shared with the team; an administrator. Each test makes its own boards and
/// images, so team-wide shares of one test never decide another's answer.
/// </summary>
public sealed class SharingScenario : IAsyncLifetime
{
    public static readonly DateTime T0 = new(2026, 11, 20, 9, 0, 0, DateTimeKind.Utc);

    public FluxWebFactory Factory { get; private set; } = default!;

    public SiteClient Admin { get; private set; } = default!;

    public SiteClient Ada { get; private set; } = default!;

    public SiteClient Bob { get; private set; } = default!;

    public SiteClient Corp { get; private set; } = default!;

    public SiteClient Eve { get; private set; } = default!;

    public SiteClient Sam { get; private set; } = default!;

    public JobActor AdaActor { get; private set; } = default!;

    public JobActor BobActor { get; private set; } = default!;

    public JobActor CorpActor { get; private set; } = default!;

    public JobActor EveActor { get; private set; } = default!;

    public JobActor SamActor { get; private set; } = default!;

    public JobActor AdminActor { get; private set; } = default!;

    public GalleryRows Rows { get; private set; } = default!;

    public async Task InitializeAsync()
    {
        Factory = new FluxWebFactory().With("Accounts:Registration", "Open").WithEngine(new FakeImageGenerator());
        Admin = new SiteClient(Factory.CreateBrowserClient());
        Ada = new SiteClient(Factory.CreateBrowserClient());
        Bob = new SiteClient(Factory.CreateBrowserClient());
        Corp = new SiteClient(Factory.CreateBrowserClient());
        Eve = new SiteClient(Factory.CreateBrowserClient());
        Sam = new SiteClient(Factory.CreateBrowserClient());
        await Admin.RegisterAsync("admin@example.com");
        await Ada.RegisterAsync("ada@example.com");
        await Bob.RegisterAsync("bob@example.com");
        await Corp.RegisterAsync("corp@example.com");
        await Eve.RegisterAsync("eve@example.com");
        await Sam.RegisterAsync("sam@example.com");
        AdminActor = new JobActor(await UserIdAsync("admin@example.com"), true);
        AdaActor = new JobActor(await UserIdAsync("ada@example.com"), false);
        BobActor = new JobActor(await UserIdAsync("bob@example.com"), false);
        CorpActor = new JobActor(await UserIdAsync("corp@example.com"), false);
        EveActor = new JobActor(await UserIdAsync("eve@example.com"), false);
        SamActor = new JobActor(await UserIdAsync("sam@example.com"), false);
        var nonCommercial = new[] { AdaActor.UserId, BobActor.UserId, SamActor.UserId };
        await DbAsync(db => db.Users.Where(u => nonCommercial.Contains(u.Id)).ExecuteUpdateAsync(set => set.SetProperty(u => u.AccountType, AccountType.NonCommercial)));
        Rows = new GalleryRows(Factory.Services);
    }

    public Task<StoredImage> ApacheAsync(JobActor owner, string prompt) => Rows.AddOutputAsync(owner, prompt, T0, withFile: true);

    public Task<StoredImage> NonCommercialAsync(JobActor owner, string prompt) =>
        Rows.AddOutputAsync(owner, prompt, T0.AddMinutes(1), model: QueueHost.OtherModelId, commercialUse: false, withFile: true);

    public Task<string> UserIdAsync(string email) => Factory.UserIdAsync(email);

    public Task<T> DbAsync<T>(Func<FluxWebDbContext, Task<T>> work) => Factory.WithDbAsync(work);

    public async Task<HttpClient> KeyClientAsync(JobActor user, ApiKeyScope scope) =>
        Factory.KeyClient(await Factory.CreateKeyAsync(user.UserId, $"key {Guid.NewGuid():N}", scope));

    /// <summary>A change as the pages' scripts send it (with the request header).</summary>
    public static Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string url, object? body = null)
    {
        var request = new HttpRequestMessage(method, url) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Add("X-FluxWeb-Request", "1");
        return client.SendAsync(request);
    }

    /// <summary>Ada's new board with the images on it, through the API as her pages would do it.</summary>
    public async Task<Guid> BoardAsync(string name, params Guid[] images)
    {
        var created = await SendAsync(Ada.Http, HttpMethod.Post, "/api/v1/boards", new { name });
        Assert.Equal(System.Net.HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        if (images.Length > 0)
        {
            var added = await SendAsync(Ada.Http, HttpMethod.Post, $"/api/v1/boards/{id}/images", new { imageIds = images });
            Assert.Equal(System.Net.HttpStatusCode.OK, added.StatusCode);
        }

        return id;
    }

    /// <summary>Shares a board or image of Ada's (<paramref name="target"/> is "boards/{id}" or "images/{id}") and answers the share's id.</summary>
    public async Task<Guid> ShareAsync(string target, string? email, string role = "Viewer")
    {
        var response = await SendAsync(Ada.Http, HttpMethod.Post, $"/api/v1/{target}/shares", email is null ? new { team = true, role } : (object)new { email, role });
        Assert.True(response.IsSuccessStatusCode, $"{target}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    public static async Task<IReadOnlyList<Guid>> FeedIdsAsync(HttpClient client, string query = "")
    {
        var page = await client.GetFromJsonAsync<JsonElement>($"/api/v1/feed?pageSize=200{query}");
        return [.. page.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid())];
    }

    public Task DisposeAsync()
    {
        Factory.Dispose();
        return Task.CompletedTask;
    }
}
