using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using FluxWeb.Application.Jobs;
using FluxWeb.Host.Endpoints;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Provenance.Decoding;
using FluxWeb.Provenance.Tests.Decoding;
using FluxWeb.Provenance.Tests.Support;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Web.Tests.Uploads;

/// <summary>
/// <c>POST /api/v1/uploads/images</c> on the real app: who may upload, what is stored, and the hostile-image
/// corpus of the provenance tests sent through this door, each refused with its status and a message.
/// </summary>
public sealed class ImageUploadEndpointTests : IClassFixture<ImageUploadEndpointTests.TwoUsers>
{
    private const string Path = ImageUploadEndpoints.CollectionPath;

    /// <summary>Smaller than the 20 MiB default so the oversize cases stay cheap; the limit is read from configuration either way.</summary>
    private const long MaxBytes = 4L * 1024 * 1024;

    private readonly TwoUsers users;

    public ImageUploadEndpointTests(TwoUsers users) => this.users = users;

    public sealed class TwoUsers : IAsyncLifetime
    {
        public FluxWebFactory Factory { get; } = new FluxWebFactory()
            .With("Accounts:Registration", "Open")
            .With("Provenance:Decoding:MaxBytes", MaxBytes.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithEngine(new FakeImageGenerator());

        public SiteClient Ada { get; private set; } = default!;

        public SiteClient Bob { get; private set; } = default!;

        public string AdaId { get; private set; } = "";

        public string BobId { get; private set; } = "";

        public async Task InitializeAsync()
        {
            Ada = new SiteClient(Factory.CreateBrowserClient());
            Bob = new SiteClient(Factory.CreateBrowserClient());
            await Ada.RegisterAsync("ada@example.com");
            await Bob.RegisterAsync("bob@example.com");
            await using var scope = Factory.Services.CreateAsyncScope();
            var accounts = scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>();
            AdaId = (await accounts.FindByEmailAsync("ada@example.com"))!.Id;
            BobId = (await accounts.FindByEmailAsync("bob@example.com"))!.Id;
        }

        public Task DisposeAsync()
        {
            Factory.Dispose();
            return Task.CompletedTask;
        }
    }

    public static TheoryData<HostileImages.Case> Corpus()
    {
        var data = new TheoryData<HostileImages.Case>();
        foreach (var hostile in HostileImages.All())
        {
            data.Add(hostile);
        }

        return data;
    }

    private static HttpRequestMessage Upload(byte[] body, string? contentType = "image/png", string? name = null, bool withHeader = true)
    {
        var url = name is null ? Path : $"{Path}?name={Uri.EscapeDataString(name)}";
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        if (contentType is not null)
        {
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        }

        if (withHeader)
        {
            request.Headers.Add(ApiRequestHeader.Name, "test");
        }

        return request;
    }

    private static string ContentTypeOf(string fileName) => System.IO.Path.GetExtension(fileName) switch
    {
        ".jpg" => "image/jpeg",
        ".webp" => "image/webp",
        // A browser names GIF, TIFF and BMP files by their extension; the client-side check would stop them,
        // so a script sending them as image/png is what the server has to face.
        _ => "image/png",
    };

    private static async Task<string> ProblemDetail(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("detail").GetString()!;
    }

    private static async Task<ImageUploadResponse> CreatedAsync(HttpResponseMessage response)
    {
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return JsonSerializer.Deserialize<ImageUploadResponse>(await response.Content.ReadAsStringAsync(), JsonSerializerOptions.Web)!;
    }

    [Theory]
    [InlineData("png")]
    [InlineData("jpeg")]
    [InlineData("webp")]
    public async Task A_png_jpeg_or_webp_is_stored_for_its_owner_and_served_as_png(string format)
    {
        using var photo = TestImages.Photo(120, 80);
        var (bytes, contentType) = format switch
        {
            "png" => (TestImages.Png(photo), "image/png"),
            "jpeg" => (TestImages.Jpeg(photo), "image/jpeg"),
            _ => (HostileImages.Encode(photo, new WebpEncoder { FileFormat = WebpFileFormatType.Lossless }), "image/webp"),
        };

        var response = await users.Ada.Http.SendAsync(Upload(bytes, contentType, $"mood.{format}"));

        var created = await CreatedAsync(response);
        Assert.Equal((120, 80), (created.Width, created.Height));
        Assert.Equal(JobUrls.Image(created.Id), response.Headers.Location!.OriginalString);
        var served = await users.Ada.Http.GetAsync(JobUrls.Image(created.Id));
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal("image/png", served.Content.Headers.ContentType?.MediaType);
        using var stored = Image.Load<Rgb24>(await served.Content.ReadAsByteArrayAsync());
        Assert.Equal((120, 80), (stored.Width, stored.Height));
        Assert.InRange(Math.Abs(stored[60, 40].R - photo[60, 40].R), 0, 12);

        Assert.Equal(HttpStatusCode.NotFound, (await users.Bob.Http.GetAsync(JobUrls.Image(created.Id))).StatusCode);
    }

    [Fact]
    public async Task Anonymous_callers_get_401_and_the_request_header_is_required()
    {
        var png = TestImages.Png(TestImages.Photo(16, 16));
        var anonymous = users.Factory.CreateBrowserClient();

        var noSession = await anonymous.SendAsync(Upload(png));
        var noHeader = await users.Ada.Http.SendAsync(Upload(png, withHeader: false));

        Assert.Equal(HttpStatusCode.Unauthorized, noSession.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, noHeader.StatusCode);
        Assert.Contains(ApiRequestHeader.Name, await ProblemDetail(noHeader), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public async Task A_hostile_file_gets_its_4xx_and_a_message(HostileImages.Case hostile)
    {
        var expected = hostile.Reason switch
        {
            UnsafeImageReason.UnsupportedFormat => 415,
            UnsafeImageReason.TooLarge => 413,
            _ => 400,
        };

        var response = await users.Ada.Http.SendAsync(Upload(hostile.Bytes, ContentTypeOf(hostile.FileName), hostile.FileName));

        Assert.True((int)response.StatusCode == expected, $"{hostile.Name}: {(int)response.StatusCode}, expected {expected}");
        var detail = await ProblemDetail(response);
        Assert.Matches("(PNG|JPEG|WebP|upload|Upload|image|picture)", detail);
    }

    [Fact]
    public async Task Wrong_content_types_bodies_over_the_limit_and_misnamed_files_are_handled_and_the_server_still_serves()
    {
        var png = TestImages.Png(TestImages.Photo(64, 48));

        var asText = await users.Ada.Http.SendAsync(Upload(png, "text/plain", "notes.txt"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, asText.StatusCode);
        Assert.Contains("image/png, image/jpeg, image/webp", await ProblemDetail(asText), StringComparison.Ordinal);

        var withoutType = await users.Ada.Http.SendAsync(Upload(png, contentType: null));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, withoutType.StatusCode);

        // Declared as a JPEG named .jpg, but the bytes are a PNG: the content decides, as in the decoder.
        var misnamed = await CreatedAsync(await users.Ada.Http.SendAsync(Upload(png, "image/jpeg", "actually-a-png.jpg")));
        Assert.Equal(64, misnamed.Width);

        var oversize = new byte[MaxBytes + 1];
        png.CopyTo(oversize, 0);
        var declaredTooLarge = await users.Ada.Http.SendAsync(Upload(oversize));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, declaredTooLarge.StatusCode);
        Assert.Contains("4 MiB", await ProblemDetail(declaredTooLarge), StringComparison.Ordinal);

        // No Content-Length (a streamed body): the bounded read stops one byte past the limit.
        var streamed = new HttpRequestMessage(HttpMethod.Post, Path) { Content = new StreamContent(new UnknownLengthStream(oversize)) };
        streamed.Content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        streamed.Headers.Add(ApiRequestHeader.Name, "test");
        var streamedTooLarge = await users.Ada.Http.SendAsync(streamed);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, streamedTooLarge.StatusCode);

        foreach (var hostile in HostileImages.All())
        {
            Assert.True((int)(await users.Ada.Http.SendAsync(Upload(hostile.Bytes, ContentTypeOf(hostile.FileName)))).StatusCode is >= 400 and < 500, hostile.Name);
        }

        var afterwards = await CreatedAsync(await users.Ada.Http.SendAsync(Upload(png, name: "fine.png")));
        Assert.Equal(HttpStatusCode.OK, (await users.Ada.Http.GetAsync(JobUrls.Image(afterwards.Id))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await users.Ada.Http.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await users.Ada.Http.GetAsync("/studio")).StatusCode);
    }

    [Fact]
    public async Task Another_users_upload_is_not_found_as_a_reference_or_a_source_and_not_served()
    {
        var uploaded = await CreatedAsync(await users.Ada.Http.SendAsync(Upload(TestImages.Png(TestImages.Photo(64, 64)), name: "ada.png")));
        var generation = users.Factory.Service<GenerationService>();

        var bobsReference = await generation.SubmitAsync(users.BobId, QueueHost.Request("borrowed").With(s => s with { ReferenceImageIds = [uploaded.Id] }));
        var bobsSource = await generation.SubmitAsync(users.BobId, QueueHost.Request("borrowed").With(s => s with { SourceImageId = uploaded.Id }));
        var adas = await generation.SubmitAsync(users.AdaId, QueueHost.Request("mine").With(s => s with { ReferenceImageIds = [uploaded.Id] }));

        Assert.False(bobsReference.Accepted);
        Assert.Equal("Reference image 1 was not found. Upload it again.", bobsReference.Error);
        Assert.Empty(bobsReference.JobIds);
        Assert.False(bobsSource.Accepted);
        Assert.Equal("The source image was not found. Upload it again.", bobsSource.Error);
        Assert.True(adas.Accepted, adas.Error);
        Assert.Equal(HttpStatusCode.NotFound, (await users.Bob.Http.GetAsync(JobUrls.Image(uploaded.Id))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await users.Bob.Http.GetAsync($"{JobUrls.Image(uploaded.Id)}?download=true")).StatusCode);
    }

    /// <summary>A body whose length the client does not announce, as a browser stream or a proxy may send it.</summary>
    private sealed class UnknownLengthStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }
}
