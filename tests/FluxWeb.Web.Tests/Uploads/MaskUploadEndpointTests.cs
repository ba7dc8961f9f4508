using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using FluxWeb.Host.Endpoints;
using FluxWeb.Host.Uploads;
using FluxWeb.Testing;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;

namespace FluxWeb.Web.Tests.Uploads;

public sealed class MaskUploadEndpointTests : IClassFixture<MaskUploadEndpointTests.TwoUsers>
{
    private const string Path = MaskUploadEndpoints.CollectionPath;

    private readonly TwoUsers users;

    public MaskUploadEndpointTests(TwoUsers users) => this.users = users;

    public sealed class TwoUsers : IAsyncLifetime
    {
        public FluxWebFactory Factory { get; } = new FluxWebFactory().With("Accounts:Registration", "Open");

        public SiteClient Ada { get; private set; } = default!;

        public SiteClient Bob { get; private set; } = default!;

        public async Task InitializeAsync()
        {
            Ada = new SiteClient(Factory.CreateBrowserClient());
            Bob = new SiteClient(Factory.CreateBrowserClient());
            await Ada.RegisterAsync("ada@example.com");
            await Bob.RegisterAsync("bob@example.com");
        }

        public Task DisposeAsync()
        {
            Factory.Dispose();
            return Task.CompletedTask;
        }
    }

    /// <summary>What the editor sends: an opaque RGBA PNG whose gray level is the mask.</summary>
    private static byte[] EditorPng(int width, int height, Func<int, int, byte> value)
    {
        using var image = new Image<Rgba32>(width, height);
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var v = value(x, y);
                image[x, y] = new Rgba32(v, v, v, 255);
            }
        }

        using var stream = new MemoryStream();
        image.SaveAsPng(stream);
        return stream.ToArray();
    }

    private static HttpRequestMessage Upload(byte[] body, string contentType = "image/png", bool withHeader = true)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        if (withHeader)
        {
            request.Headers.Add(ApiRequestHeader.Name, "test");
        }

        return request;
    }

    private static async Task<string> ProblemDetail(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.GetProperty("detail").GetString()!;
    }

    [Fact]
    public async Task An_uploaded_mask_is_stored_as_grayscale_and_served_to_its_owner_only()
    {
        // Left half white with a gray feather column; the editor's soft edges arrive as gray levels.
        var png = EditorPng(64, 48, (x, _) => x < 31 ? (byte)255 : x == 31 ? (byte)128 : (byte)0);

        var response = await users.Ada.Http.SendAsync(Upload(png));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var saved = JsonSerializer.Deserialize<MaskUploadResponse>(await response.Content.ReadAsStringAsync(), JsonSerializerOptions.Web)!;
        Assert.Equal(64, saved.Width);
        Assert.Equal(48, saved.Height);
        Assert.Equal(32 * 48, saved.PaintedPixels);
        Assert.Equal($"{Path}/{saved.Id}", response.Headers.Location!.OriginalString);

        var mask = await users.Ada.Http.GetAsync($"{Path}/{saved.Id}");
        Assert.Equal(HttpStatusCode.OK, mask.StatusCode);
        Assert.Equal("image/png", mask.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(mask.Headers.ETag);
        var bytes = await mask.Content.ReadAsByteArrayAsync();
        Assert.Equal(PngColorType.Grayscale, Image.Identify(bytes).Metadata.GetPngMetadata().ColorType);
        using var stored = Image.Load<L8>(bytes);
        Assert.Equal((64, 48), (stored.Width, stored.Height));
        Assert.Equal(255, stored[0, 0].PackedValue);
        Assert.Equal(128, stored[31, 10].PackedValue);
        Assert.Equal(0, stored[63, 47].PackedValue);

        var notBobs = await users.Bob.Http.GetAsync($"{Path}/{saved.Id}");
        Assert.Equal(HttpStatusCode.NotFound, notBobs.StatusCode);
        Assert.Contains("None of your saved masks", await ProblemDetail(notBobs), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await users.Ada.Http.GetAsync($"{Path}/{Guid.NewGuid():N}")).StatusCode);
    }

    [Fact]
    public async Task Anonymous_visitors_can_neither_upload_nor_read_masks()
    {
        var anonymous = users.Factory.CreateBrowserClient();

        var upload = await anonymous.SendAsync(Upload(EditorPng(8, 8, (_, _) => 255)));
        var read = await anonymous.GetAsync($"{Path}/{Guid.NewGuid():N}");

        Assert.Equal(HttpStatusCode.Unauthorized, upload.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, read.StatusCode);
    }

    [Fact]
    public async Task A_jpeg_is_refused_as_unsupported_media_whatever_its_content_type()
    {
        using var image = new Image<Rgb24>(16, 16);
        using var stream = new MemoryStream();
        image.Save(stream, new JpegEncoder());

        var asPng = await users.Ada.Http.SendAsync(Upload(stream.ToArray()));
        var asJpeg = await users.Ada.Http.SendAsync(Upload(stream.ToArray(), "image/jpeg"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, asPng.StatusCode);
        Assert.Contains("not a PNG", await ProblemDetail(asPng), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, asJpeg.StatusCode);
        Assert.Contains("Content-Type: image/png", await ProblemDetail(asJpeg), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_oversized_body_is_refused_before_decoding()
    {
        var body = new byte[MaskUploadStore.MaxMaskBytes + 1];
        EditorPng(8, 8, (_, _) => 0).CopyTo(body, 0);

        var response = await users.Ada.Http.SendAsync(Upload(body));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("16 MiB", await ProblemDetail(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_truncated_png_is_a_bad_request_that_says_so()
    {
        var png = EditorPng(32, 32, (x, y) => (byte)((x + y) * 4));

        var response = await users.Ada.Http.SendAsync(Upload(png[..(png.Length / 2)]));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("incomplete", await ProblemDetail(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_mask_wider_than_8192_pixels_is_refused()
    {
        var png = EditorPng(8193, 2, (_, _) => 0);

        var response = await users.Ada.Http.SendAsync(Upload(png));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("8193×2", await ProblemDetail(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_upload_without_the_pages_request_header_is_refused()
    {
        var response = await users.Ada.Http.SendAsync(Upload(EditorPng(8, 8, (_, _) => 255), withHeader: false));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(ApiRequestHeader.Name, await ProblemDetail(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_mask_editor_page_renders_for_a_signed_in_user_and_refuses_outside_images()
    {
        var page = await users.Bob.Http.GetStringAsync("/studio/mask-editor?image=%2Fapi%2Fv1%2Fuploads%2Fmasks%2Fx&w=640&h=480");
        var outside = await users.Bob.Http.GetStringAsync("/studio/mask-editor?image=https%3A%2F%2Fexample.com%2Fa.png&w=640&h=480");
        var junk = await users.Bob.Http.GetAsync("/studio/mask-editor?image=%2Fa.png&w=abc&h=-3");

        Assert.Contains("Edit a mask", page, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"mask-toolbar\"", page, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"mask-page-problem\"", outside, StringComparison.Ordinal);
        Assert.Contains("must come from this FluxWeb server", outside, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, junk.StatusCode);
        Assert.Contains("whole number from 1 to 8192", await junk.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
