using FluxWeb.Application.Jobs;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace FluxWeb.Browser.Tests;

/// <summary>The app with the fake engine, open registration.</summary>
public sealed class QueueBrowserSession : BrowserSession
{
    public FakeImageGenerator Engine { get; } = new();

    protected override FluxWebFactory CreateFactory() => new FluxWebFactory().With("Accounts:Registration", "Open").WithEngine(Engine);
}

/// <summary>The Studio's "My jobs" panel in Chromium: live steps and previews over the circuit, reattach after a reload, cancel, and nothing of anyone else's.</summary>
public sealed class MyJobsTests(QueueBrowserSession session) : IClassFixture<QueueBrowserSession>
{
    private static ILocator Job(IPage page, Guid id) => page.Locator($"[data-testid=my-jobs] [data-job-id='{id}']");

    /// <summary>An image the browser really fetched and decoded (through the signed-in, authorised endpoint).</summary>
    private static async Task WaitForLoadedImageAsync(ILocator image, string urlPart)
    {
        await Assertions.Expect(image).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex(System.Text.RegularExpressions.Regex.Escape(urlPart)));
        await image.EvaluateAsync("img => img.complete && img.naturalWidth > 0 ? true : new Promise((ok, fail) => { img.onload = () => ok(true); img.onerror = () => fail('image did not load'); })");
    }

    [Fact]
    public async Task The_owner_watches_her_job_live_reloads_cancels_and_a_colleague_sees_none_of_it()
    {
        var ada = await session.NewPageAsync();
        var bob = await session.NewPageAsync();
        try
        {
            await BrowserSession.RegisterAsync(ada, "ada@example.com");
            await BrowserSession.RegisterAsync(bob, "bob@example.com");
            await Assertions.Expect(ada.Locator("[data-testid=my-jobs-empty]")).ToBeVisibleAsync();

            string adaId;
            await using (var scope = session.Factory.Services.CreateAsyncScope())
            {
                adaId = (await scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>().FindByEmailAsync("ada@example.com"))!.Id;
            }

            var hold = session.Engine.HoldNextJob(step: 2);
            var result = await session.Factory.Services.GetRequiredService<GenerationService>()
                .SubmitAsync(adaId, QueueHost.Request("a lighthouse at dusk", count: 2, seed: 7));
            var (running, waiting) = (result.JobIds[0], result.JobIds[1]);
            await hold.Reached.WaitAsync(TimeSpan.FromSeconds(20));

            // Pushed to the open circuit: no reload.
            await Assertions.Expect(Job(ada, running).Locator("[data-testid=job-status]")).ToHaveTextAsync("Running · step 2 of 4");
            await WaitForLoadedImageAsync(Job(ada, running).Locator("img"), $"/api/v1/jobs/{running}/preview?step=2");
            await Assertions.Expect(Job(ada, waiting).Locator("[data-testid=job-status]")).ToHaveTextAsync("Queued · next to run");
            await BrowserSession.ScreenshotAsync(ada, "my-jobs-running");

            await ada.ReloadAsync();
            await BrowserSession.WaitForCircuitAsync(ada);
            await Assertions.Expect(Job(ada, running).Locator("[data-testid=job-status]")).ToHaveTextAsync("Running · step 2 of 4");
            await Job(ada, waiting).Locator("[data-testid=job-cancel]").ClickAsync();
            await Assertions.Expect(Job(ada, waiting).Locator("[data-testid=job-status]")).ToHaveTextAsync("Cancelled by you.");

            hold.Release();
            // On the Studio a finished image leaves the queue panel for the results, live as well. The job still has
            // steps, the decode, the safety check, the watermark and the signature to run: on a loaded 2-core CI
            // machine that took longer than Expect's default 5 s.
            await Assertions.Expect(Job(ada, running)).ToHaveCountAsync(0, new() { Timeout = 60_000 });
            await Assertions.Expect(Job(ada, waiting).Locator("[data-testid=job-status]")).ToHaveTextAsync("Cancelled by you.");
            await WaitForLoadedImageAsync(ada.Locator($"[data-testid=result][data-job-id='{running}'] img"), "/api/v1/images/");
            await BrowserSession.ScreenshotAsync(ada, "my-jobs-done");

            await bob.ReloadAsync();
            await BrowserSession.WaitForCircuitAsync(bob);
            await Assertions.Expect(bob.Locator("[data-testid=my-jobs-empty]")).ToBeVisibleAsync();
            Assert.Equal(0, await bob.Locator("[data-testid=job]").CountAsync());
        }
        catch
        {
            await BrowserSession.ScreenshotAsync(ada, "my-jobs-failure-ada");
            await BrowserSession.ScreenshotAsync(bob, "my-jobs-failure-bob");
            throw;
        }
    }
}
