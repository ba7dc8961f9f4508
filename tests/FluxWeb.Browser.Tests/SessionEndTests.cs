using System.Diagnostics;
using System.Text.RegularExpressions;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Application.Jobs;
using FluxWeb.Domain.Accounts;
using FluxWeb.Host.Cli;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace FluxWeb.Browser.Tests;

/// <summary>The app with the fake engine and open registration; open pages re-check their session only every 10 minutes, so only the push can end one sooner.</summary>
public sealed class PushOnlyBrowserSession : BrowserSession
{
    protected override FluxWebFactory CreateFactory() =>
        new FluxWebFactory().With("Accounts:Registration", "Open").With("Accounts:SessionRevalidationInterval", "00:10:00").WithEngine(new FakeImageGenerator());
}

/// <summary>Signing in, promoting and waiting for the sign-in page, shared by the two session-end tests.</summary>
internal static class SessionEnd
{
    public static async Task<string> UserIdAsync(BrowserSession session, string email)
    {
        await using var scope = session.Factory.Services.CreateAsyncScope();
        return (await scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>().FindByEmailAsync(email))!.Id;
    }

    public static async Task SignInAsync(IPage page, string email)
    {
        await page.GotoAsync("/Account/Login");
        await page.FillAsync("#Input\\.Email", email);
        await page.FillAsync("#Input\\.Password", SiteClient.StrongPassword);
        await page.ClickAsync("[data-testid=login-submit]");
        await page.WaitForURLAsync(url => !url.Contains("/Account/", StringComparison.Ordinal));
    }

    /// <summary>An administrator account (registered, then promoted from the command line) signed in on its own page.</summary>
    public static async Task<IPage> AdministratorAsync(BrowserSession session, string email)
    {
        var page = await session.NewPageAsync();
        await BrowserSession.RegisterAsync(page, email);
        var result = await session.Factory.Services.GetRequiredService<UserAdministration>()
            .ChangeAsync(await UserIdAsync(session, email), new UserChange { Role = Roles.Admin }, ChangeActor.CommandLine);
        Assert.True(result.Succeeded, result.Error);
        // The promotion ended the session that still had the old role: the open Studio goes to the sign-in page first.
        await WaitUntilSignedOutAsync(page, "role", Stopwatch.StartNew());
        await SignInAsync(page, email);
        return page;
    }

    public static async Task<TimeSpan> WaitUntilSignedOutAsync(IPage page, string reason, Stopwatch since)
    {
        // Polls the address (the page may already have left by the time this starts).
        await Assertions.Expect(page).ToHaveURLAsync(new Regex($"/Account/Login\\?ended={reason}$"), new PageAssertionsToHaveURLOptions { Timeout = 30_000 });
        var elapsed = since.Elapsed;
        await Assertions.Expect(page.GetByTestId("session-ended")).ToBeVisibleAsync();
        return elapsed;
    }
}

/// <summary>
/// An admin's powers end when an admin ends them, in an open page too: a demoted admin's open queue page
/// leaves for the sign-in page within seconds of `fluxweb users set --role User` (another process, so no
/// push: the page's periodic re-check finds it) and says why; the other users' prompts it showed are gone.
/// </summary>
public sealed class SessionEndTests(QueueBrowserSession session, ITestOutputHelper output) : IClassFixture<QueueBrowserSession>
{
    private Task<string> UserIdAsync(string email) => SessionEnd.UserIdAsync(session, email);

    [Fact]
    public async Task An_admin_demoted_from_the_command_line_loses_the_open_queue_page_within_seconds()
    {
        var chief = await session.NewPageAsync();
        await BrowserSession.RegisterAsync(chief, "chief@example.com");
        var deputy = await SessionEnd.AdministratorAsync(session, "deputy@example.com");
        var ada = await session.NewPageAsync();
        try
        {
            await BrowserSession.RegisterAsync(ada, "ada-queue@example.com");
            var hold = session.Engine.HoldNextJob(step: 1);
            var jobs = (await session.Factory.Services.GetRequiredService<GenerationService>()
                .SubmitAsync(await UserIdAsync("ada-queue@example.com"), QueueHost.Request("ada's confidential brief", count: 2))).JobIds;
            await hold.Reached.WaitAsync(TimeSpan.FromSeconds(20));

            await deputy.GotoAsync("/admin/queue");
            await BrowserSession.WaitForCircuitAsync(deputy);
            await Assertions.Expect(deputy.GetByTestId("admin-queue")).ToContainTextAsync("ada's confidential brief");

            // Another process, as in the report: `fluxweb users set --role User` on the server's data folder.
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            var since = Stopwatch.StartNew();
            var code = await FluxWebCli.RunAsync(
                ["users", "set", "--email", "deputy@example.com", "--role", "User", "--data", session.Factory.DataDirectory, "--models", session.Factory.ModelsDirectory],
                new CliOutput(stdout, stderr));
            Assert.True(code == 0, stderr.ToString());

            var elapsed = await SessionEnd.WaitUntilSignedOutAsync(deputy, "role", since);
            output.WriteLine($"The demoted admin's open queue page left {elapsed.TotalSeconds:0.0} s after the command started (revalidation interval 5 s).");
            await Assertions.Expect(deputy.GetByTestId("session-ended")).ToContainTextAsync("an administrator changed your role");
            await Assertions.Expect(deputy.GetByText("ada's confidential brief")).ToHaveCountAsync(0);
            await BrowserSession.ScreenshotAsync(deputy, "session-ended-role");

            // Signed in again, as the plain user it now is: the admin pages stay shut, the job was never cancelled.
            await SessionEnd.SignInAsync(deputy, "deputy@example.com");
            await deputy.GotoAsync("/admin/queue");
            await deputy.WaitForURLAsync("**/Account/AccessDenied**");
            var state = (await session.Factory.Services.GetRequiredService<JobService>().GetAsync(new JobActor(await UserIdAsync("ada-queue@example.com"), false), jobs[1]))!.State;
            Assert.Equal(FluxWeb.Domain.Jobs.JobState.Queued, state);
            hold.Release();
        }
        catch
        {
            await BrowserSession.ScreenshotAsync(deputy, "session-ended-failure-deputy");
            throw;
        }
    }
}

/// <summary>A change made through this server (the admin page's services) reaches the open pages at once, long before their periodic re-check.</summary>
public sealed class PushedSessionEndTests(PushOnlyBrowserSession session, ITestOutputHelper output) : IClassFixture<PushOnlyBrowserSession>
{
    private Task<string> UserIdAsync(string email) => SessionEnd.UserIdAsync(session, email);

    [Fact]
    public async Task Disabling_accounts_on_the_server_ends_their_open_pages_at_once()
    {
        var chief = await session.NewPageAsync();
        await BrowserSession.RegisterAsync(chief, "chief2@example.com");
        var second = await SessionEnd.AdministratorAsync(session, "second@example.com");
        var bob = await session.NewPageAsync();
        try
        {
            await BrowserSession.RegisterAsync(bob, "bob-studio@example.com");
            await second.GotoAsync("/admin/users");
            await BrowserSession.WaitForCircuitAsync(second);
            await Assertions.Expect(second.Locator("[data-testid=user-row][data-email='bob-studio@example.com']")).ToBeVisibleAsync();

            // Through this server (the admin page's service): the change is pushed to the open circuits.
            var administration = session.Factory.Services.GetRequiredService<UserAdministration>();
            var chiefActor = ChangeActor.Ui(await UserIdAsync("chief2@example.com"));
            var since = Stopwatch.StartNew();
            Assert.True((await administration.ChangeAsync(await UserIdAsync("second@example.com"), new UserChange { Disabled = true }, chiefActor)).Succeeded);
            Assert.True((await administration.ChangeAsync(await UserIdAsync("bob-studio@example.com"), new UserChange { Disabled = true }, chiefActor)).Succeeded);

            // With a 10-minute re-check, only the push can bring these pages to the sign-in page within the wait.
            var adminPage = await SessionEnd.WaitUntilSignedOutAsync(second, "disabled", since);
            var studio = await SessionEnd.WaitUntilSignedOutAsync(bob, "disabled", since);
            output.WriteLine($"Pushed: the disabled admin's page left after {adminPage.TotalSeconds:0.0} s, the disabled user's Studio after {studio.TotalSeconds:0.0} s.");
            await Assertions.Expect(second.GetByTestId("session-ended")).ToContainTextAsync("an administrator disabled your account");
            await BrowserSession.ScreenshotAsync(bob, "session-ended-disabled");
        }
        catch
        {
            output.WriteLine($"admin page at {second.Url}, user page at {bob.Url}");
            await BrowserSession.ScreenshotAsync(second, "session-disabled-failure-admin");
            await BrowserSession.ScreenshotAsync(bob, "session-disabled-failure-user");
            throw;
        }
    }
}
