using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using FluxWeb.Application.ApiKeys;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Images;
using FluxWeb.Domain.ApiKeys;
using FluxWeb.Host.Endpoints;
using FluxWeb.Persistence;
using FluxWeb.Provenance.Tests.Support;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Web.Tests.Uploads;

/// <summary>
/// The HTTP doors on a full data disk: an upload is refused with the reason and leaves nothing
/// behind, a key's last-used bookkeeping never fails the request, and partial files that an
/// interrupted write left are removed when the server starts.
/// </summary>
public sealed class FullDiskTests
{
    private static HttpRequestMessage Upload(string path, byte[] body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        request.Headers.Add(ApiRequestHeader.Name, "test");
        return request;
    }

    private static IEnumerable<string> Files(FluxWebFactory factory, string pattern)
    {
        var images = Path.Combine(factory.DataDirectory, ImageStore.Folder);
        return Directory.Exists(images) ? Directory.EnumerateFiles(images, pattern, SearchOption.AllDirectories) : [];
    }

    [Theory]
    [InlineData(ImageUploadEndpoints.CollectionPath)]
    [InlineData(MaskUploadEndpoints.CollectionPath)]
    public async Task An_upload_on_a_full_disk_is_refused_with_the_reason_and_leaves_no_partial_file(string path)
    {
        var disk = new FullDiskImageFiles { BytesLeft = 100 };
        using var factory = new FluxWebFactory().WithServices(s => s.AddSingleton<IImageFiles>(disk));
        var ada = new SiteClient(factory.CreateBrowserClient());
        await ada.RegisterAsync("ada@example.com");
        using var picture = TestImages.Photo(96, 64);
        var png = TestImages.Png(picture);

        var response = await ada.Http.SendAsync(Upload(path, png));

        Assert.Equal(HttpStatusCode.InsufficientStorage, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using (var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()))
        {
            Assert.Equal("The image could not be stored: the server's disk is full. Nothing was kept; an administrator needs to free space.", problem.RootElement.GetProperty("detail").GetString());
        }

        Assert.Equal(1, disk.Failures);
        Assert.Empty(Files(factory, "*.partial"));
        Assert.Empty(Files(factory, "*.png"));
        await using (var db = await factory.Service<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync())
        {
            Assert.Equal(0, await db.Images.CountAsync());
        }

        disk.Full = false;
        Assert.Equal(HttpStatusCode.Created, (await ada.Http.SendAsync(Upload(path, png))).StatusCode);
    }

    [Fact]
    public async Task Partial_files_left_by_interrupted_writes_are_removed_when_the_server_starts()
    {
        using var folder = new TempFolder();
        var data = folder.Combine("data");
        var month = Path.Combine(data, ImageStore.Folder, "2026", "11");
        Directory.CreateDirectory(month);
        var abandoned = Path.Combine(month, "job-0123.png.partial");
        var upload = Path.Combine(month, "0456.png.partial");
        var inProgress = Path.Combine(month, "0789.png.partial");
        var kept = Path.Combine(month, "0999.png");
        foreach (var file in new[] { abandoned, upload, inProgress, kept })
        {
            await File.WriteAllBytesAsync(file, new byte[512]);
        }

        File.SetLastWriteTimeUtc(abandoned, DateTime.UtcNow.AddHours(-3));
        File.SetLastWriteTimeUtc(upload, DateTime.UtcNow.AddDays(-2));
        File.SetLastWriteTimeUtc(kept, DateTime.UtcNow.AddDays(-2));

        using var factory = new FluxWebFactory().With("FluxWeb:DataDirectory", data);
        Assert.Equal(HttpStatusCode.OK, (await factory.CreateBrowserClient().GetAsync("/healthz")).StatusCode);

        Assert.False(File.Exists(abandoned));
        Assert.False(File.Exists(upload));
        // Written moments ago: it may be another process's write in progress (the CLI on the same data folder).
        Assert.True(File.Exists(inProgress));
        Assert.True(File.Exists(kept));
        Assert.Contains(factory.Logs.Lines, l => l.Contains("Removed 2 partial image files", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_keys_last_used_update_failing_on_a_full_disk_does_not_fail_the_request()
    {
        var database = new FullDiskDatabase { Full = false, Applies = sql => sql.Contains("UPDATE \"ApiKeys\"", StringComparison.Ordinal) };
        using var factory = new FluxWebFactory().WithServices(s => s.AddSingleton<IInterceptor>(database));
        var ada = new SiteClient(factory.CreateBrowserClient());
        await ada.RegisterAsync("ada@example.com");
        string adaId;
        await using (var db = await factory.Service<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync())
        {
            adaId = await db.Users.Select(u => u.Id).SingleAsync();
        }

        var (created, error) = await factory.Service<ApiKeyService>().CreateAsync(adaId, "nightly", ApiKeyScope.Read, ChangeActor.CommandLine);
        Assert.True(created is not null, error);
        var script = factory.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        script.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", created.Key);
        database.Full = true;

        var response = await script.GetAsync("/api/v1/jobs");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(database.Refused >= 1, "The last-used update must have been attempted and refused.");
        Assert.Contains(factory.Logs.Lines, l => l.Contains("could not be recorded; the request goes on", StringComparison.Ordinal));
        var keys = await factory.Service<ApiKeyService>().ListAsync(adaId, ChangeActor.CommandLine);
        Assert.Null(keys.Single().LastUsedUtc);
    }
}
