using System.Net;
using System.Text.RegularExpressions;
using FluxWeb.Application.Accounts;
using FluxWeb.Application.Administration;
using FluxWeb.Application.Audit;
using FluxWeb.Domain.Accounts;
using FluxWeb.Domain.Audit;
using FluxWeb.Host.Hosting;
using FluxWeb.Persistence;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Web.Tests.Accounts;

/// <summary>
/// The sign-in session: server-side (a copied cookie dies with the sign-out, sessions survive a
/// restart), sign-out only with the antiforgery token, no open redirect after sign-in, one answer
/// for every failed sign-in, and an administrator's change ends the account's sessions at once.
/// </summary>
public sealed partial class SessionTests(FluxWebFactory host) : IClassFixture<FluxWebFactory>, IAsyncLifetime
{
    // One app for the tests that need it as configured by default, reset before each (the others start their own).
    public Task InitializeAsync() => host.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private const string AuthCookie = "fluxweb.auth";

    /// <summary>A browser whose cookies the test can read (to copy the session cookie, as an attacker would).</summary>
    private static (SiteClient Site, CookieContainer Cookies) Browser(FluxWebFactory factory)
    {
        var cookies = new CookieContainer();
        return (new SiteClient(factory.CreateDefaultClient(new CookieContainerHandler(cookies))), cookies);
    }

    /// <summary>A client without a cookie jar that presents exactly this cookie.</summary>
    private static HttpClient WithCookie(FluxWebFactory factory, string value)
    {
        var client = factory.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        client.DefaultRequestHeaders.Add("Cookie", $"{AuthCookie}={value}");
        return client;
    }

    private static string SessionCookie(FluxWebFactory factory, CookieContainer cookies) =>
        cookies.GetCookies(factory.Server.BaseAddress)[AuthCookie]?.Value ?? throw new InvalidOperationException("Not signed in.");

    private static async Task<string> UserIdAsync(FluxWebFactory factory, string email)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        return (await scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>().FindByEmailAsync(email))!.Id;
    }

    [Fact]
    public async Task A_session_cookie_copied_before_sign_out_no_longer_works_after_it()
    {
        var factory = host;
        var (ada, cookies) = Browser(factory);
        await ada.RegisterAsync("ada@example.com");
        var copied = WithCookie(factory, SessionCookie(factory, cookies));
        Assert.Equal(HttpStatusCode.OK, (await copied.GetAsync("/studio")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await copied.GetAsync("/api/v1/jobs")).StatusCode);

        Assert.Equal(HttpStatusCode.Redirect, (await ada.LogoutAsync()).StatusCode);

        var page = await copied.GetAsync("/studio");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.Equal("/Account/Login", page.Headers.Location?.AbsolutePath);
        Assert.Equal(HttpStatusCode.Unauthorized, (await copied.GetAsync("/api/v1/jobs")).StatusCode);
        await using var db = await factory.Service<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();
        Assert.Empty(await db.UserSessions.ToListAsync());
    }

    [Fact]
    public async Task Sessions_are_kept_in_the_database_under_a_hash_and_survive_a_restart()
    {
        using var folder = new TempFolder();
        var data = folder.Combine("data");
        string cookie;
        using (var first = new FluxWebFactory().With("FluxWeb:DataDirectory", data))
        {
            var (ada, cookies) = Browser(first);
            await ada.RegisterAsync("ada@example.com");
            cookie = SessionCookie(first, cookies);
            await using var db = await first.Service<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();
            var session = Assert.Single(await db.UserSessions.ToListAsync());
            Assert.Matches("^[0-9a-f]{64}$", session.Id);
            Assert.Equal(await UserIdAsync(first, "ada@example.com"), session.UserId);
            Assert.True(session.ExpiresUtc > DateTime.UtcNow.AddDays(6));
        }

        using var second = new FluxWebFactory().With("FluxWeb:DataDirectory", data);
        Assert.Equal(HttpStatusCode.OK, (await WithCookie(second, cookie).GetAsync("/studio")).StatusCode);
    }

    /// <summary>
    /// The cookie handler renews the session while it starts the response, with the request's token: a browser that
    /// hangs up then (an aborted preview poll) cancelled the one-row write, and Kestrel logged an unhandled error.
    /// </summary>
    [Fact]
    public async Task A_renewal_finishes_when_the_client_has_already_hung_up()
    {
        var store = host.Service<DatabaseTicketStore>();
        var (ada, _) = Browser(host);
        await ada.RegisterAsync("ada@example.com");
        var userId = await UserIdAsync(host, "ada@example.com");
        var identity = new System.Security.Claims.ClaimsIdentity([new System.Security.Claims.Claim(System.Security.Claims.ClaimTypes.NameIdentifier, userId)], "test");
        var ticket = new Microsoft.AspNetCore.Authentication.AuthenticationTicket(new System.Security.Claims.ClaimsPrincipal(identity), "Identity.Application");
        ticket.Properties.ExpiresUtc = DateTimeOffset.UtcNow.AddDays(1);
        var key = await store.StoreAsync(ticket, CancellationToken.None);

        var renewed = DateTimeOffset.UtcNow.AddDays(7);
        ticket.Properties.ExpiresUtc = renewed;
        await store.RenewAsync(key, ticket, new CancellationToken(canceled: true));

        await using var db = await host.Service<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();
        var session = await db.UserSessions.SingleAsync(s => s.Id == Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key))));
        Assert.Equal(renewed.UtcDateTime, session.ExpiresUtc!.Value, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Signing_out_needs_the_antiforgery_token_and_a_forged_post_leaves_the_session_alone()
    {
        var factory = host;
        var ada = new SiteClient(factory.CreateBrowserClient());
        await ada.RegisterAsync("ada@example.com");

        // What a page on another site can send: the form post without the token (the browser adds the cookie).
        var forged = await ada.Http.PostAsync("/Account/Logout", new FormUrlEncodedContent(new Dictionary<string, string>()));
        var wrongToken = await ada.Http.PostAsync("/Account/Logout", new FormUrlEncodedContent(new Dictionary<string, string> { ["__RequestVerificationToken"] = "CfDJ8forged" }));

        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Contains("still signed in", await forged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, wrongToken.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ada.Http.GetAsync("/studio")).StatusCode);
        await using (var db = await factory.Service<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync())
        {
            Assert.DoesNotContain(await db.AuditEvents.ToListAsync(), a => a.Action == AuditActions.SignOut);
        }

        Assert.Equal(HttpStatusCode.Redirect, (await ada.LogoutAsync()).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await ada.Http.GetAsync("/studio")).StatusCode);
    }

    [Theory]
    [InlineData("https://evil.example/steal")]
    [InlineData("//evil.example/steal")]
    [InlineData("/\\evil.example/steal")]
    [InlineData("  //evil.example")]
    [InlineData("javascript:alert(1)")]
    [InlineData("http://localhost:1/elsewhere")]
    public async Task An_off_site_return_url_signs_in_and_stays_on_this_site(string returnUrl)
    {
        var factory = host;
        var ada = new SiteClient(factory.CreateBrowserClient());
        await ada.RegisterAsync("ada@example.com");
        await ada.LogoutAsync();

        var response = await ada.PostFormAsync($"/Account/Login?ReturnUrl={Uri.EscapeDataString(returnUrl)}", "login", new()
        {
            ["Input.Email"] = "ada@example.com",
            ["Input.Password"] = SiteClient.StrongPassword,
        });

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var location = response.Headers.Location!.OriginalString;
        Assert.False(location.StartsWith("//", StringComparison.Ordinal) || location.StartsWith("/\\", StringComparison.Ordinal), location);
        var target = new Uri(factory.Server.BaseAddress, response.Headers.Location!);
        Assert.Equal(factory.Server.BaseAddress.Authority, target.Authority);
        Assert.Equal(factory.Server.BaseAddress.Scheme, target.Scheme);
        // Home, except where the address parses as a path on this site: /\evil.example/x becomes /evil.example/x, and the
        // Location sent is that parsed path, never the raw text a browser would read as //evil.example.
        Assert.True(target.AbsolutePath == "/" || returnUrl.StartsWith("/\\", StringComparison.Ordinal), target.ToString());
        Assert.Equal(HttpStatusCode.OK, (await ada.Http.GetAsync("/studio")).StatusCode);
    }

    [Fact]
    public async Task A_return_url_on_this_site_is_followed_after_sign_in()
    {
        var factory = host;
        var ada = new SiteClient(factory.CreateBrowserClient());
        await ada.RegisterAsync("ada@example.com");
        await ada.LogoutAsync();

        var response = await ada.PostFormAsync($"/Account/Login?ReturnUrl={Uri.EscapeDataString("/gallery?search=cat")}", "login", new()
        {
            ["Input.Email"] = "ada@example.com",
            ["Input.Password"] = SiteClient.StrongPassword,
        });

        Assert.Equal("/gallery?search=cat", new Uri(factory.Server.BaseAddress, response.Headers.Location!).PathAndQuery);
    }

    /// <summary>Counts password-hash checks: every failed sign-in must cost one, whatever the reason.</summary>
    private sealed class CountingHasher : IPasswordHasher<FluxUser>
    {
        private readonly PasswordHasher<FluxUser> inner = new();

        public int Verifications;

        public string HashPassword(FluxUser user, string password) => inner.HashPassword(user, password);

        public PasswordVerificationResult VerifyHashedPassword(FluxUser user, string hashedPassword, string providedPassword)
        {
            Interlocked.Increment(ref Verifications);
            return inner.VerifyHashedPassword(user, hashedPassword, providedPassword);
        }
    }

    [Fact]
    public async Task Unknown_locked_and_disabled_accounts_get_the_same_answer_as_a_wrong_password()
    {
        var hasher = new CountingHasher();
        using var factory = new FluxWebFactory().With("Accounts:Registration", "Open")
            .WithServices(s => s.AddSingleton<IPasswordHasher<FluxUser>>(hasher));
        foreach (var email in new[] { "admin@example.com", "bob@example.com", "carol@example.com", "dave@example.com" })
        {
            await new SiteClient(factory.CreateBrowserClient()).RegisterAsync(email);
        }

        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<UserManager<FluxUser>>();
            await users.SetLockoutEndDateAsync((await users.FindByEmailAsync("carol@example.com"))!, DateTimeOffset.UtcNow.AddHours(1));
        }

        var dave = await UserIdAsync(factory, "dave@example.com");
        Assert.True((await factory.Service<UserAdministration>().ChangeAsync(dave, new UserChange { Disabled = true }, ChangeActor.CommandLine)).Succeeded);

        var answers = new Dictionary<string, string>();
        var hashChecks = new Dictionary<string, int>();
        foreach (var (what, email, password) in new[]
        {
            ("wrong password", "bob@example.com", "Wrong-Password-1!"),
            ("unknown e-mail", "nobody@example.com", SiteClient.StrongPassword),
            ("locked", "carol@example.com", SiteClient.StrongPassword),
            ("disabled", "dave@example.com", SiteClient.StrongPassword),
        })
        {
            var before = Volatile.Read(ref hasher.Verifications);
            var response = await new SiteClient(factory.CreateBrowserClient()).LoginAsync(email, password);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            answers[what] = StatusMessage().Match(await response.Content.ReadAsStringAsync()).Groups["message"].Value;
            hashChecks[what] = Volatile.Read(ref hasher.Verifications) - before;
        }

        Assert.Single(answers.Values.Distinct());
        Assert.StartsWith("Error: Wrong e-mail or password, or the account is locked or disabled.", answers["unknown e-mail"], StringComparison.Ordinal);
        Assert.All(hashChecks, check => Assert.True(check.Value == 1, $"{check.Key}: {check.Value} password checks"));
        await using var db = await factory.Service<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();
        var failures = await db.AuditEvents.Where(a => a.Action == AuditActions.SignInFailed).Select(a => a.Detail).ToListAsync();
        Assert.Equal(["wrong e-mail or password", "wrong e-mail or password", "locked out", "not allowed"], failures);
    }

    [Theory]
    [InlineData("role")]
    [InlineData("disabled")]
    [InlineData("password")]
    public async Task An_administrators_change_ends_the_accounts_sessions_at_once(string change)
    {
        using var factory = new FluxWebFactory().With("Accounts:Registration", "Open");
        await new SiteClient(factory.CreateBrowserClient()).RegisterAsync("chief@example.com");
        var (deputy, _) = Browser(factory);
        await deputy.RegisterAsync("deputy@example.com");
        var deputyId = await UserIdAsync(factory, "deputy@example.com");
        var users = factory.Service<UserAdministration>();
        Assert.True((await users.ChangeAsync(deputyId, new UserChange { Role = Roles.Admin }, ChangeActor.CommandLine)).Succeeded);
        await deputy.LoginAsync("deputy@example.com");
        Assert.Equal(HttpStatusCode.OK, (await deputy.Http.GetAsync("/admin/usage.csv")).StatusCode);
        var stamp = await StampAsync();

        var result = await users.ChangeAsync(deputyId, change switch
        {
            "role" => new UserChange { Role = Roles.User },
            "disabled" => new UserChange { Disabled = true },
            _ => new UserChange { NewPassword = "Another-Sunflower-7!" },
        }, ChangeActor.CommandLine);

        Assert.True(result.Succeeded, result.Error);
        Assert.NotEqual(stamp, await StampAsync());
        var csv = await deputy.Http.GetAsync("/admin/usage.csv");
        Assert.Equal(HttpStatusCode.Redirect, csv.StatusCode);
        Assert.Equal("/Account/Login", csv.Headers.Location?.AbsolutePath);
        Assert.Equal(HttpStatusCode.Unauthorized, (await deputy.Http.GetAsync("/api/v1/jobs")).StatusCode);

        async Task<string?> StampAsync()
        {
            await using var db = await factory.Service<IDbContextFactory<FluxWebDbContext>>().CreateDbContextAsync();
            return await db.Users.Where(u => u.Id == deputyId).Select(u => u.SecurityStamp).SingleAsync();
        }
    }

    [Fact]
    public async Task The_sign_in_page_says_why_an_open_page_was_signed_out()
    {
        var factory = host;
        var anonymous = factory.CreateBrowserClient();

        var page = await anonymous.GetStringAsync("/Account/Login?ended=role");
        var unknown = await anonymous.GetStringAsync("/Account/Login?ended=%3Cscript%3E");

        Assert.Contains("data-testid=\"session-ended\"", page, StringComparison.Ordinal);
        Assert.Contains("an administrator changed your role", page, StringComparison.Ordinal);
        Assert.DoesNotContain("session-ended", unknown, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>", unknown, StringComparison.Ordinal);
    }

    [GeneratedRegex("data-testid=\"status-message\">\\s*(?<message>[^<]*?)\\s*</div>")]
    private static partial Regex StatusMessage();
}
