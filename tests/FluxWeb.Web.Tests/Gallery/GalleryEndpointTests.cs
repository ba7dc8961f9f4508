using System.Net;
using System.Net.Http.Json;
using FluxWeb.Application.Images;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Audit;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp;

namespace FluxWeb.Web.Tests.Gallery;

/// <summary>The gallery's HTTP routes on the real app: thumbnails, favourites, deletion and the audited download.</summary>
public sealed class GalleryEndpointTests : IClassFixture<GalleryEndpointTests.Scenario>
{
    private static readonly DateTime T0 = new(2026, 11, 20, 9, 0, 0, DateTimeKind.Utc);

    private readonly Scenario scenario;

    public GalleryEndpointTests(Scenario scenario) => this.scenario = scenario;

    public sealed class Scenario : IAsyncLifetime
    {
        public FluxWebFactory Factory { get; private set; } = default!;

        public SiteClient Admin { get; private set; } = default!;

        public SiteClient Ada { get; private set; } = default!;

        public SiteClient Bob { get; private set; } = default!;

        public SiteClient Corp { get; private set; } = default!;

        public JobActor AdaActor { get; private set; } = default!;

        public JobActor CorpActor { get; private set; } = default!;

        public GalleryRows Rows { get; private set; } = default!;

        public async Task InitializeAsync()
        {
            Factory = new FluxWebFactory().With("Accounts:Registration", "Open").WithEngine(new FakeImageGenerator());
            Admin = new SiteClient(Factory.CreateBrowserClient());
            Ada = new SiteClient(Factory.CreateBrowserClient());
            Bob = new SiteClient(Factory.CreateBrowserClient());
            Corp = new SiteClient(Factory.CreateBrowserClient());
            await Admin.RegisterAsync("admin@example.com");
            await Ada.RegisterAsync("ada@example.com");
            await Bob.RegisterAsync("bob@example.com");
            await Corp.RegisterAsync("corp@example.com");
            AdaActor = new JobActor(await UserIdAsync("ada@example.com"), false);
            CorpActor = new JobActor(await UserIdAsync("corp@example.com"), false);
            Rows = new GalleryRows(Factory.Services);
        }

        private async Task<string> UserIdAsync(string email)
        {
            await using var scope = Factory.Services.CreateAsyncScope();
            return (await scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>().FindByEmailAsync(email))!.Id;
        }

        public Task DisposeAsync()
        {
            Factory.Dispose();
            return Task.CompletedTask;
        }
    }

    private static HttpRequestMessage Mutation(HttpMethod method, string url, bool header = true)
    {
        var request = new HttpRequestMessage(method, url);
        if (header)
        {
            request.Headers.Add("X-FluxWeb-Request", "1");
        }

        return request;
    }

    private Task<T> DbAsync<T>(Func<FluxWebDbContext, Task<T>> read) => DbAsync(scenario.Factory, read);

    private static async Task<T> DbAsync<T>(FluxWebFactory factory, Func<FluxWebDbContext, Task<T>> read)
    {
        await using var db = await factory.Service<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();
        return await read(db);
    }

    [Fact]
    public async Task Thumbnail_for_the_owner_and_admins_404_for_others_401_anonymously()
    {
        var image = await scenario.Rows.AddOutputAsync(scenario.AdaActor, "thumbnail me", T0, withFile: true, width: 640, height: 480);
        var url = $"/api/v1/images/{image.Id}/thumbnail";

        var response = await scenario.Ada.Http.GetAsync(url);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/webp", response.Content.Headers.ContentType!.MediaType);
        Assert.True(response.Headers.CacheControl!.Private);
        Assert.NotNull(response.Headers.ETag);
        using (var thumbnail = Image.Load(await response.Content.ReadAsByteArrayAsync()))
        {
            Assert.Equal((320, 240), (thumbnail.Width, thumbnail.Height));
        }

        var again = new HttpRequestMessage(HttpMethod.Get, url);
        again.Headers.IfNoneMatch.Add(response.Headers.ETag!);
        Assert.Equal(HttpStatusCode.NotModified, (await scenario.Ada.Http.SendAsync(again)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await scenario.Admin.Http.GetAsync(url)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await scenario.Bob.Http.GetAsync(url)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await scenario.Ada.Http.GetAsync($"/api/v1/images/{Guid.NewGuid()}/thumbnail")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await scenario.Factory.CreateBrowserClient().GetAsync(url)).StatusCode);
    }

    [Fact]
    public async Task A_commercial_account_is_refused_the_thumbnail_of_a_non_commercial_output_and_it_is_audited()
    {
        var kept = await scenario.Rows.AddOutputAsync(scenario.CorpActor, "made while non-commercial", T0, model: QueueHost.OtherModelId, commercialUse: false, withFile: true);

        var response = await scenario.Corp.Http.GetAsync($"/api/v1/images/{kept.Id}/thumbnail");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains("FLUX-Non-Commercial", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.True(await DbAsync(db => db.AuditEvents.AnyAsync(a => a.Action == AuditActions.LicenceRefused && a.ImageId == kept.Id && a.ActorId == scenario.CorpActor.UserId)));
        Assert.Equal(HttpStatusCode.Forbidden, (await scenario.Corp.Http.SendAsync(Mutation(HttpMethod.Post, $"/api/v1/images/{kept.Id}/favourite"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await scenario.Corp.Http.SendAsync(Mutation(HttpMethod.Delete, $"/api/v1/images/{kept.Id}"))).StatusCode);
        // Kept and visible to administrators.
        Assert.Equal(HttpStatusCode.OK, (await scenario.Admin.Http.GetAsync($"/api/v1/images/{kept.Id}/thumbnail")).StatusCode);
    }

    [Fact]
    public async Task Favourite_needs_the_header_and_is_the_owners_alone()
    {
        var image = await scenario.Rows.AddOutputAsync(scenario.AdaActor, "favourite me", T0);
        var url = $"/api/v1/images/{image.Id}/favourite";
        Task<bool> FavouriteAsync() => DbAsync(db => db.Images.Where(i => i.Id == image.Id).Select(i => i.Favourite).SingleAsync());

        var withoutHeader = await scenario.Ada.Http.SendAsync(Mutation(HttpMethod.Post, url, header: false));
        Assert.Equal(HttpStatusCode.BadRequest, withoutHeader.StatusCode);
        Assert.Contains("X-FluxWeb-Request", await withoutHeader.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await scenario.Bob.Http.SendAsync(Mutation(HttpMethod.Post, url))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await scenario.Admin.Http.SendAsync(Mutation(HttpMethod.Post, url))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await scenario.Factory.CreateBrowserClient().SendAsync(Mutation(HttpMethod.Post, url))).StatusCode);
        Assert.False(await FavouriteAsync());

        var added = await scenario.Ada.Http.SendAsync(Mutation(HttpMethod.Post, url));
        Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        Assert.Equal(new FluxWeb.Host.Endpoints.FavouriteResponse(image.Id, true), await added.Content.ReadFromJsonAsync<FluxWeb.Host.Endpoints.FavouriteResponse>());
        Assert.True(await FavouriteAsync());

        Assert.Equal(HttpStatusCode.BadRequest, (await scenario.Ada.Http.SendAsync(Mutation(HttpMethod.Delete, url, header: false))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await scenario.Bob.Http.SendAsync(Mutation(HttpMethod.Delete, url))).StatusCode);
        Assert.True(await FavouriteAsync());
        var removed = await scenario.Ada.Http.SendAsync(Mutation(HttpMethod.Delete, url));
        Assert.Equal(HttpStatusCode.OK, removed.StatusCode);
        Assert.False(await FavouriteAsync());
    }

    [Fact]
    public async Task Delete_needs_the_header_removes_the_files_clears_the_job_and_is_audited()
    {
        var image = await scenario.Rows.AddOutputAsync(scenario.AdaActor, "delete me", T0, withFile: true);
        var url = $"/api/v1/images/{image.Id}";
        Assert.Equal(HttpStatusCode.OK, (await scenario.Ada.Http.GetAsync($"{url}/thumbnail")).StatusCode);
        var file = scenario.Factory.Service<ImageStore>().FullPath(image.RelativePath);
        var thumbnail = ThumbnailStore.PathFor(file);
        Assert.True(File.Exists(file) && File.Exists(thumbnail));

        Assert.Equal(HttpStatusCode.BadRequest, (await scenario.Ada.Http.SendAsync(Mutation(HttpMethod.Delete, url, header: false))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await scenario.Bob.Http.SendAsync(Mutation(HttpMethod.Delete, url))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await scenario.Factory.CreateBrowserClient().SendAsync(Mutation(HttpMethod.Delete, url))).StatusCode);
        Assert.True(File.Exists(file));

        var deleted = await scenario.Ada.Http.SendAsync(Mutation(HttpMethod.Delete, url));

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.False(File.Exists(file));
        Assert.False(File.Exists(thumbnail));
        Assert.Equal(HttpStatusCode.NotFound, (await scenario.Ada.Http.GetAsync(url)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await scenario.Ada.Http.GetAsync($"{url}/thumbnail")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await scenario.Ada.Http.SendAsync(Mutation(HttpMethod.Delete, url))).StatusCode);
        Assert.Null(await DbAsync(db => db.Jobs.Where(j => j.Id == image.JobId).Select(j => j.OutputImageId).SingleAsync()));
        var audit = await DbAsync(db => db.AuditEvents.SingleAsync(a => a.Action == AuditActions.Delete && a.ImageId == image.Id));
        Assert.Equal((scenario.AdaActor.UserId, "ada@example.com", "api", true), (audit.ActorId, audit.ActorEmail, audit.Channel, audit.Succeeded));
    }

    [Fact]
    public async Task The_gallerys_download_is_the_stored_png_byte_for_byte_and_is_audited()
    {
        var image = await scenario.Rows.AddOutputAsync(scenario.AdaActor, "download me", T0, withFile: true);
        var item = (await scenario.Factory.Service<GalleryQuery>().ListAsync(scenario.AdaActor, new GalleryFilter { Search = "download me" })).Items.Single();

        var response = await scenario.Ada.Http.GetAsync(item.DownloadUrl);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("attachment", response.Content.Headers.ContentDisposition!.DispositionType);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(await File.ReadAllBytesAsync(scenario.Factory.Service<ImageStore>().FullPath(image.RelativePath)), bytes);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
        Assert.True(await DbAsync(db => db.AuditEvents.AnyAsync(a => a.Action == AuditActions.Download && a.ImageId == image.Id)));
    }
}
