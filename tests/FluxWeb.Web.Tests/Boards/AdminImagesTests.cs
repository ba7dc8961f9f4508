using System.Net;
using FluxWeb.Domain.ApiKeys;
using FluxWeb.Domain.Audit;
using Microsoft.EntityFrameworkCore;

namespace FluxWeb.Web.Tests.Boards;

/// <summary>The administrators' "All images" page: everyone's images for an administrator signed in with the cookie, audited; nobody else, no key.</summary>
public sealed class AdminImagesTests(SharingScenario scenario) : IClassFixture<SharingScenario>
{
    [Fact]
    public async Task An_administrator_sees_every_accounts_images_filtered_by_account_and_the_view_is_audited()
    {
        var adas = await scenario.ApacheAsync(scenario.AdaActor, "all images: ada's private harbour");
        var nc = await scenario.NonCommercialAsync(scenario.CorpActor, "all images: corp's non-commercial test");
        var before = await scenario.DbAsync(db => db.AuditEvents.CountAsync(a => a.Action == AuditActions.AdminView && a.ActorId == scenario.AdminActor.UserId));

        var all = await scenario.Admin.Http.GetStringAsync("/admin/images");

        Assert.Contains($"/api/v1/images/{adas.Id}/thumbnail", all, StringComparison.Ordinal);
        Assert.Contains($"/api/v1/images/{nc.Id}/thumbnail", all, StringComparison.Ordinal);
        Assert.Contains("by ada@example.com", all, StringComparison.Ordinal);
        Assert.True(await scenario.DbAsync(db => db.AuditEvents.CountAsync(a => a.Action == AuditActions.AdminView && a.ActorId == scenario.AdminActor.UserId)) > before);
    }

    [Fact]
    public async Task Nobody_else_reaches_it_not_a_user_and_not_an_administrators_key()
    {
        var adas = await scenario.ApacheAsync(scenario.AdaActor, "all images: never for eve");

        foreach (var client in new[] { scenario.Eve.Http, scenario.Ada.Http, await scenario.KeyClientAsync(scenario.AdminActor, ApiKeyScope.Generate) })
        {
            var response = await client.GetAsync("/admin/images");
            Assert.True(response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized, $"GET /admin/images: {(int)response.StatusCode}");
            Assert.DoesNotContain(adas.Id.ToString(), await response.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        }

        // Nor "everyone's" images as a ZIP through the API, with the key or a user's cookie.
        using var adminKey = await scenario.KeyClientAsync(scenario.AdminActor, ApiKeyScope.Read);
        Assert.Equal(HttpStatusCode.Forbidden, (await SharingScenario.SendAsync(adminKey, HttpMethod.Post, "/api/v1/exports", new { source = "all" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await SharingScenario.SendAsync(scenario.Eve.Http, HttpMethod.Post, "/api/v1/exports", new { source = "all" })).StatusCode);
    }
}
