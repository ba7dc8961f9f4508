using System.Net;
using FluxWeb.Application.Accounts;
using FluxWeb.Domain.Accounts;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Web.Tests.Accounts;

public sealed class AccountFlowTests(FluxWebFactory host) : IClassFixture<FluxWebFactory>, IAsyncLifetime
{
    // One app for the tests that need it as configured by default, reset before each (the others start their own).
    public Task InitializeAsync() => host.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Anonymous_visitor_is_sent_to_the_login_page_with_a_return_url()
    {
        var factory = host;
        var client = factory.CreateBrowserClient();

        var response = await client.GetAsync("/studio");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/Account/Login", response.Headers.Location!.AbsolutePath);
        Assert.Contains("ReturnUrl=%2Fstudio", response.Headers.Location.Query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_and_register_pages_are_reachable_anonymously()
    {
        var factory = host;
        var client = factory.CreateBrowserClient();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/Account/Login")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/Account/Register")).StatusCode);
    }

    [Fact]
    public async Task First_registered_account_becomes_admin_and_the_second_does_not()
    {
        using var factory = new FluxWebFactory().With("Accounts:Registration", "Open");
        var first = new SiteClient(factory.CreateBrowserClient());
        var second = new SiteClient(factory.CreateBrowserClient());

        var firstResponse = await first.RegisterAsync("ada@example.com");
        var secondResponse = await second.RegisterAsync("bob@example.com");

        Assert.Equal(HttpStatusCode.Redirect, firstResponse.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, secondResponse.StatusCode);
        await using var scope = factory.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>();
        var ada = await users.FindByEmailAsync("ada@example.com");
        var bob = await users.FindByEmailAsync("bob@example.com");
        Assert.Equal([Roles.Admin], await users.GetRolesAsync(ada!));
        Assert.Equal([Roles.User], await users.GetRolesAsync(bob!));
        Assert.Equal(AccountType.Commercial, ada!.AccountType);
        Assert.Equal(AccountType.Commercial, bob!.AccountType);
        Assert.Contains(factory.Logs.Lines, l => l.Contains("first registered account", StringComparison.Ordinal) && l.Contains(ada.Id, StringComparison.Ordinal));
    }

    [Fact]
    public async Task By_default_registration_closes_once_an_admin_exists()
    {
        var factory = host;
        var first = new SiteClient(factory.CreateBrowserClient());
        Assert.Equal(HttpStatusCode.Redirect, (await first.RegisterAsync("ada@example.com")).StatusCode);

        var anonymous = factory.CreateBrowserClient();
        var page = await anonymous.GetStringAsync("/Account/Register");

        Assert.Contains("data-testid=\"registration-closed\"", page, StringComparison.Ordinal);
        Assert.DoesNotContain("value=\"register\"", page, StringComparison.Ordinal);
        await using var scope = factory.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>();
        Assert.Single(users.Users);
    }

    [Fact]
    public async Task Closed_registration_refuses_even_the_first_account()
    {
        using var factory = new FluxWebFactory().With("Accounts:Registration", "Closed");
        var page = await factory.CreateBrowserClient().GetStringAsync("/Account/Register");

        Assert.Contains("Registration is closed", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Registered_user_signs_out_and_back_in()
    {
        var factory = host;
        var site = new SiteClient(factory.CreateBrowserClient());
        await site.RegisterAsync("ada@example.com");
        Assert.Equal(HttpStatusCode.OK, (await site.Http.GetAsync("/studio")).StatusCode);

        var logout = await site.LogoutAsync();
        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await site.Http.GetAsync("/studio")).StatusCode);

        var login = await site.LoginAsync("ada@example.com");
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await site.Http.GetAsync("/studio")).StatusCode);
    }

    [Fact]
    public async Task Wrong_password_is_refused_and_repeated_failures_lock_the_account()
    {
        using var factory = new FluxWebFactory().With("Accounts:MaxFailedSignInAttempts", "3");
        var owner = new SiteClient(factory.CreateBrowserClient());
        await owner.RegisterAsync("ada@example.com");

        var attacker = new SiteClient(factory.CreateBrowserClient());
        var first = await attacker.LoginAsync("ada@example.com", "Wrong-password-1");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Contains("Wrong e-mail or password", await first.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        await attacker.LoginAsync("ada@example.com", "Wrong-password-2");
        var third = await attacker.LoginAsync("ada@example.com", "Wrong-password-3");
        Assert.Equal(HttpStatusCode.OK, third.StatusCode);
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>();
            Assert.True(await users.IsLockedOutAsync((await users.FindByEmailAsync("ada@example.com"))!));
        }

        // Locked out: even the right password is refused until the lockout ends, with the same words
        // as a wrong password (the form does not tell a stranger that this account exists and is locked).
        var correct = await attacker.LoginAsync("ada@example.com");
        Assert.Equal(HttpStatusCode.OK, correct.StatusCode);
        Assert.Contains("Wrong e-mail or password", await correct.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, (await attacker.Http.GetAsync("/studio")).StatusCode);
    }

    [Fact]
    public async Task Weak_password_gets_a_clear_message_and_no_account()
    {
        var factory = host;
        var site = new SiteClient(factory.CreateBrowserClient());

        var response = await site.RegisterAsync("ada@example.com", "short");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("Passwords must be at least 8 characters", html, StringComparison.Ordinal);
        await using var scope = factory.Services.CreateAsyncScope();
        Assert.Empty(scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>().Users);
    }

    [Fact]
    public async Task Form_posts_without_the_antiforgery_token_are_rejected()
    {
        var factory = host;
        var client = factory.CreateBrowserClient();

        var response = await client.PostAsync("/Account/Register", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["_handler"] = "register",
            ["Input.Email"] = "mallory@example.com",
            ["Input.Password"] = SiteClient.StrongPassword,
            ["Input.ConfirmPassword"] = SiteClient.StrongPassword,
        }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await using var scope = factory.Services.CreateAsyncScope();
        Assert.Empty(scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>().Users);
    }

    [Fact]
    public async Task A_person_deletes_their_own_account_from_its_page_and_every_session_of_it_ends()
    {
        var factory = host;
        var admin = new SiteClient(factory.CreateBrowserClient());
        await admin.RegisterAsync("ada@example.com");
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var created = await scope.ServiceProvider.GetRequiredService<AccountService>().CreateAsync("bob@example.com", SiteClient.StrongPassword, Roles.User, AccountType.Commercial);
            Assert.True(created.Succeeded, created.Error);
        }

        var bob = new SiteClient(factory.CreateBrowserClient());
        var bobsOtherBrowser = new SiteClient(factory.CreateBrowserClient());
        await bob.LoginAsync("bob@example.com");
        var page = System.Text.RegularExpressions.Regex.Replace(await bob.Http.GetStringAsync("/Account/Manage"), @"\s+", " ");
        Assert.Contains("0 images, 0 boards, 0 jobs (waiting and running ones are cancelled), your presets, 0 active API keys", page, StringComparison.Ordinal);

        // Refused with what to do, and nothing deleted: a wrong password. The only administrator is told before trying.
        var wrong = await DeleteOwnAccountAsync(bob, "Not-my-password-1", "bob@example.com");
        Assert.Equal(HttpStatusCode.OK, wrong.StatusCode);
        Assert.Contains("That is not your current password. Nothing was deleted.", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var adminsPage = await admin.Http.GetStringAsync("/Account/Manage");
        Assert.Contains("data-testid=\"delete-account-only-admin\"", adminsPage, StringComparison.Ordinal);
        Assert.DoesNotContain("value=\"delete-account\"", adminsPage, StringComparison.Ordinal);
        Assert.Equal(2, await UserCountAsync());

        // The page's other form still works beside it.
        const string newPassword = "Marigold-77!";
        var changed = await bob.PostFormAsync("/Account/Manage", "change-password", new()
        {
            ["Input.OldPassword"] = SiteClient.StrongPassword,
            ["Input.NewPassword"] = newPassword,
            ["Input.ConfirmPassword"] = newPassword,
        });
        Assert.Equal(HttpStatusCode.Redirect, changed.StatusCode);
        Assert.Contains("Your password has been changed.", await bob.Http.GetStringAsync("/Account/Manage"), StringComparison.Ordinal);
        await bobsOtherBrowser.LoginAsync("bob@example.com", newPassword);
        Assert.Equal(HttpStatusCode.OK, (await bobsOtherBrowser.Http.GetAsync("/studio")).StatusCode);

        var deleted = await DeleteOwnAccountAsync(bob, newPassword, "bob@example.com");

        Assert.Equal(HttpStatusCode.Redirect, deleted.StatusCode);
        Assert.Equal("/Account/Login", new Uri(new Uri("http://localhost"), deleted.Headers.Location!).AbsolutePath);
        Assert.Contains("Your account and everything in it have been deleted.", await bob.Http.GetStringAsync("/Account/Login"), StringComparison.Ordinal);
        Assert.Equal(1, await UserCountAsync());
        foreach (var browser in new[] { bob, bobsOtherBrowser })
        {
            Assert.Equal(HttpStatusCode.Redirect, (await browser.Http.GetAsync("/studio")).StatusCode);
        }

        Assert.Contains("Wrong e-mail or password", await (await bob.LoginAsync("bob@example.com", newPassword)).Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await admin.Http.GetAsync("/studio")).StatusCode);
        Assert.DoesNotContain(factory.Logs.Lines, l => l.StartsWith("Error", StringComparison.Ordinal) || l.StartsWith("Critical", StringComparison.Ordinal));

        async Task<int> UserCountAsync()
        {
            await using var scope = factory.Services.CreateAsyncScope();
            return scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>().Users.Count();
        }
    }

    private static Task<HttpResponseMessage> DeleteOwnAccountAsync(SiteClient site, string password, string email) =>
        site.PostFormAsync("/Account/Manage", "delete-account", new()
        {
            ["DeleteInput.Password"] = password,
            ["DeleteInput.ConfirmEmail"] = email,
        });

    [Fact]
    public async Task Passwords_never_reach_the_logs()
    {
        var factory = host;
        var site = new SiteClient(factory.CreateBrowserClient());
        const string password = "Unmistakable-Secret-9!";

        await site.RegisterAsync("ada@example.com", password);
        await site.LogoutAsync();
        await site.LoginAsync("ada@example.com", "Another-Wrong-Secret-8!");
        await site.LoginAsync("ada@example.com", password);

        Assert.NotEmpty(factory.Logs.Lines);
        Assert.DoesNotContain(factory.Logs.Lines, l => l.Contains(password, StringComparison.Ordinal));
        Assert.DoesNotContain(factory.Logs.Lines, l => l.Contains("Another-Wrong-Secret-8!", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Responses_carry_the_request_id_used_in_the_logs()
    {
        // Its own app, so the account is the first one and its creation is logged once.
        using var factory = new FluxWebFactory();
        var response = await new SiteClient(factory.CreateBrowserClient()).RegisterAsync("ada@example.com");

        var requestId = Assert.Single(response.Headers.GetValues("X-Request-Id"));
        Assert.False(string.IsNullOrWhiteSpace(requestId));
        // The registration logs the new account inside the request's scope. (The device probe, which this test
        // used to watch, now runs at start in a process with workers: they are named after their devices.)
        Assert.Contains(factory.Logs.Lines, l => l.Contains("Account ", StringComparison.Ordinal) && l.Contains(" created with role", StringComparison.Ordinal) && l.Contains(requestId, StringComparison.Ordinal));
    }
}

public sealed class AuditTrailTests
{
    [Fact]
    public async Task Sign_ins_failed_sign_ins_and_sign_outs_are_audited_without_secrets()
    {
        using var factory = new FluxWebFactory();
        var site = new SiteClient(factory.CreateBrowserClient());
        await site.RegisterAsync("ada@example.com");
        await site.LogoutAsync();
        await site.LoginAsync("ada@example.com", "Wrong-Password-7!");
        await site.LoginAsync("ada@example.com");
        await site.LoginAsync("nobody@example.com", "Whatever-1!");

        await using var scope = factory.Services.CreateAsyncScope();
        var db = await scope.ServiceProvider.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<FluxWeb.Persistence.FluxWebDbContext>>().CreateDbContextAsync();
        var events = db.AuditEvents.OrderBy(e => e.Id).ToList();
        Assert.Equal(["sign-out", "sign-in-failed", "sign-in", "sign-in-failed"], events.Select(e => e.Action));
        Assert.Equal("ada@example.com", events[1].ActorEmail);
        Assert.Equal("wrong e-mail or password", events[1].Detail);
        Assert.False(events[1].Succeeded);
        Assert.Null(events[3].ActorId);
        Assert.Equal("nobody@example.com", events[3].ActorEmail);
        Assert.DoesNotContain(events, e => (e.Detail ?? "").Contains("Wrong-Password", StringComparison.Ordinal));
    }
}
