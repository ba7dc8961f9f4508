using FluxWeb.Application.Accounts;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Jobs;
using FluxWeb.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace FluxWeb.Browser.Tests;

/// <summary>
/// Issue 19, finding 1 in Chromium: an account switched from NonCommercial to Commercial opens the
/// mask editor on its non-commercial output through the mask route (and through the image route).
/// The editor must not show the picture, and says why.
/// </summary>
public sealed class LicenceSwitchTests(QueueBrowserSession session) : IClassFixture<QueueBrowserSession>
{
    [Fact]
    public async Task The_mask_editor_cannot_open_a_non_commercial_output_for_a_switched_account()
    {
        await using (var scope = session.Factory.Services.CreateAsyncScope())
        {
            // The first account becomes the administrator (not refused by the licence); Nico is an ordinary user.
            await scope.ServiceProvider.GetRequiredService<AccountService>().RegisterAsync("admin@example.com", SiteClient.StrongPassword);
        }

        var page = await session.NewPageAsync();
        try
        {
            await BrowserSession.RegisterAsync(page, "nico@example.com");
            var users = session.Factory.Services.GetRequiredService<UserAdministration>();
            var nicoId = (await users.FindByEmailAsync("nico@example.com", ChangeActor.CommandLine))!.Id;
            await users.ChangeAsync(nicoId, new UserChange { AccountType = AccountType.NonCommercial }, ChangeActor.CommandLine);
            var made = await session.Factory.Services.GetRequiredService<GenerationService>()
                .SubmitAsync(nicoId, QueueHost.Request("non-commercial picture", seed: 0x808080, model: QueueHost.OtherModelId).With(s => s with { Width = 256, Height = 256 }));
            Assert.True(made.Accepted, made.Error);
            var image = await OutputOfAsync(made.JobIds.Single());

            // While NonCommercial, the picture opens in the editor from the image route.
            await OpenEditorAsync(page, $"/api/v1/images/{image}");
            await page.Locator(".fw-mask-stage[data-ready=true]").WaitForAsync();

            var switched = await users.ChangeAsync(nicoId, new UserChange { AccountType = AccountType.Commercial, ConfirmOutputsUnavailable = true }, ChangeActor.CommandLine);
            Assert.True(switched.Succeeded, switched.Error);

            // Through the mask route: an output is not a mask, so there is nothing there.
            await OpenEditorAsync(page, $"/api/v1/uploads/masks/{image}");
            await page.Locator(".fw-mask-stage[data-ready=error]").WaitForAsync();
            await Assertions.Expect(page.Locator("[data-testid=mask-editor-error]")).ToContainTextAsync("None of your saved masks has this id");
            await BrowserSession.ScreenshotAsync(page, "licence-mask-editor-mask-route");

            // Through the image route: refused, and the editor says why.
            await OpenEditorAsync(page, $"/api/v1/images/{image}");
            await page.Locator(".fw-mask-stage[data-ready=error]").WaitForAsync();
            await Assertions.Expect(page.Locator("[data-testid=mask-editor-error]")).ToContainTextAsync("licensed for commercial use");
            Assert.Equal(0, await page.Locator(".fw-mask-stage canvas").First.EvaluateAsync<int>(
                "canvas => { const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data; let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0 ? 1 : 0; return n; }"));
        }
        catch
        {
            await BrowserSession.ScreenshotAsync(page, "licence-mask-editor-failure");
            throw;
        }
    }

    private static async Task OpenEditorAsync(IPage page, string imageUrl)
    {
        await page.GotoAsync($"/studio/mask-editor?image={Uri.EscapeDataString(imageUrl)}&w=256&h=256");
        await BrowserSession.WaitForCircuitAsync(page);
    }

    private async Task<Guid> OutputOfAsync(Guid jobId)
    {
        var contexts = session.Factory.Services.GetRequiredService<IDbContextFactory<FluxWeb.Persistence.FluxWebDbContext>>();
        Job? last = null;
        var job = await Eventually.Value(
            async () =>
            {
                await using var db = await contexts.CreateDbContextAsync();
                return last = await db.Jobs.AsNoTracking().SingleAsync(j => j.Id == jobId);
            },
            j => j.State.IsFinished(),
            () => $"The job is {last?.State}.");
        Assert.True(job.State == JobState.Succeeded, job.Error);
        return job.OutputImageId!.Value;
    }
}
