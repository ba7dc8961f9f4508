using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using FluxWeb.Domain.Audit;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Web.Tests.Licensing;

/// <summary>
/// Issue 19, findings 1, 2, 6 and the licence part of 8: what a switched account (and a commercial
/// colleague) could still get of a non-commercial model's output, each door in turn.
/// </summary>
public sealed class SwitchedAccountTests(SwitchedAccount scenario) : IClassFixture<SwitchedAccount>
{
    private static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G'];

    private static HttpRequestMessage Post(string url, HttpContent content)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = content };
        request.Headers.Add("X-FluxWeb-Request", "1");
        return request;
    }

    private static ByteArrayContent Png(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        return content;
    }

    private Task<List<AuditEvent>> RefusalsAsync(string actorId) =>
        scenario.WithDbAsync(db => db.AuditEvents.AsNoTracking().Where(a => a.ActorId == actorId && a.Action == AuditActions.LicenceRefused).ToListAsync());

    [Fact]
    public async Task Finding_1_the_mask_route_serves_only_masks_and_never_a_non_commercial_output()
    {
        using var key = scenario.KeyClient(scenario.NicoKey);
        foreach (var client in new[] { scenario.Nico.Http, key })
        {
            var nc = await client.GetAsync($"/api/v1/uploads/masks/{scenario.NcImage}");
            var output = await client.GetAsync($"/api/v1/uploads/masks/{scenario.ApacheImage}");
            var upload = await client.GetAsync($"/api/v1/uploads/masks/{scenario.Upload}");

            Assert.Equal(HttpStatusCode.NotFound, nc.StatusCode);
            Assert.False((await nc.Content.ReadAsByteArrayAsync()).AsSpan().StartsWith(PngSignature), "The mask route answered with a picture");
            // Masks are masks: an output or an uploaded picture is not one, whatever its licence.
            Assert.Equal(HttpStatusCode.NotFound, output.StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, upload.StatusCode);
        }

        // A real mask of Nico's is still his.
        var saved = await scenario.Nico.Http.SendAsync(Post("/api/v1/uploads/masks", Png(MaskPng())));
        Assert.Equal(HttpStatusCode.Created, saved.StatusCode);
        var maskId = (await saved.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.OK, (await key.GetAsync($"/api/v1/uploads/masks/{maskId}")).StatusCode);
    }

    [Fact]
    public async Task Finding_2_a_non_commercial_output_is_refused_as_a_mask_and_the_refusal_is_audited()
    {
        using var key = scenario.KeyClient(scenario.NicoKey);
        var before = (await RefusalsAsync(scenario.NicoId)).Count;

        var response = await key.PostAsJsonAsync("/api/v1/generations", new
        {
            model = QueueHost.ModelId,
            prompt = "repaint with a borrowed mask",
            sourceImageId = scenario.Upload,
            maskImageId = scenario.NcImage,
            strength = 0.9,
        });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("use images made by klein-test-nc as input", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(before + 1, (await RefusalsAsync(scenario.NicoId)).Count);
        Assert.DoesNotContain(scenario.Engine.Started, g => g.Prompt == "repaint with a borrowed mask");
    }

    [Fact]
    public async Task Finding_6_a_copy_of_a_non_commercial_output_is_refused_at_upload_with_the_reason_and_audited()
    {
        using var ada = scenario.KeyClient(scenario.AdaKey);
        using var nico = scenario.KeyClient(scenario.NicoKey);
        var adaBefore = (await RefusalsAsync(scenario.AdaId)).Count;

        var byColleague = await ada.PostAsync("/api/v1/uploads/images", Png(scenario.NcPng));
        var byOwner = await nico.PostAsync("/api/v1/uploads/images", Png(scenario.NcPng));
        var asMask = await scenario.Nico.Http.SendAsync(Post("/api/v1/uploads/masks", Png(scenario.NcPng)));

        foreach (var refused in new[] { byColleague, byOwner, asMask })
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            var detail = (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString()!;
            Assert.Contains("watermark", detail, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("klein-test-nc", detail, StringComparison.Ordinal);
            Assert.Contains("FLUX-Non-Commercial", detail, StringComparison.Ordinal);
            // The reason names the model, never the other account's job, prompt or e-mail.
            Assert.DoesNotContain(SwitchedAccount.SecretPrompt, detail, StringComparison.Ordinal);
            Assert.DoesNotContain("nico@", detail, StringComparison.Ordinal);
        }

        var adaRefusals = await RefusalsAsync(scenario.AdaId);
        Assert.Equal(adaBefore + 1, adaRefusals.Count);
        Assert.Contains(adaRefusals, a => a.ModelId == QueueHost.OtherModelId && a.Detail!.Contains("watermark", StringComparison.OrdinalIgnoreCase));
        Assert.Equal(0, await scenario.WithDbAsync(db => db.Images.CountAsync(i => i.OwnerId == scenario.AdaId && i.Kind != FluxWeb.Domain.Images.StoredImageKind.Output)));

        // A copy of an Apache-2.0 output is an ordinary picture for a commercial account.
        var apache = await ada.PostAsync("/api/v1/uploads/images", Png(scenario.ApachePng));
        Assert.Equal(HttpStatusCode.Created, apache.StatusCode);
    }

    [Fact]
    public async Task Finding_8_job_listings_and_views_leave_out_the_non_commercial_job()
    {
        using var key = scenario.KeyClient(scenario.NicoKey);
        foreach (var client in new[] { scenario.Nico.Http, key })
        {
            var list = await client.GetStringAsync("/api/v1/jobs?finished=200");
            foreach (var secret in scenario.Secrets)
            {
                Assert.DoesNotContain(secret, list, StringComparison.OrdinalIgnoreCase);
            }

            // The Apache-2.0 job is still listed: only what the licence forbids is left out.
            Assert.Contains("an apache harbour", list, StringComparison.Ordinal);

            var one = await client.GetAsync($"/api/v1/jobs/{scenario.NcJob}");
            Assert.Equal(HttpStatusCode.Forbidden, one.StatusCode);
            var body = await one.Content.ReadAsStringAsync();
            Assert.Contains("licensed for commercial use", body, StringComparison.Ordinal);
            Assert.DoesNotContain(SwitchedAccount.SecretPrompt, body, StringComparison.Ordinal);
        }
    }

    private static byte[] MaskPng()
    {
        using var mask = new SixLabors.ImageSharp.Image<SixLabors.ImageSharp.PixelFormats.L8>(64, 64);
        mask[10, 10] = new SixLabors.ImageSharp.PixelFormats.L8(255);
        using var stream = new MemoryStream();
        SixLabors.ImageSharp.ImageExtensions.SaveAsPng(mask, stream);
        return stream.ToArray();
    }
}
