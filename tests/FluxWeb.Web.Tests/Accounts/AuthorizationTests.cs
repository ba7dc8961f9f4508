using System.Net;
using System.Reflection;
using FluxWeb.Domain.Accounts;
using FluxWeb.Persistence.Accounts;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Web.Tests.Accounts;

/// <summary>
/// Enumerates the app's real routes instead of a hand-kept list, so a page or endpoint added
/// later without the right attribute fails here.
/// </summary>
public sealed class AuthorizationTests : IClassFixture<AuthorizationTests.TwoAccounts>
{
    private static readonly string[] AnonymousRoutes = ["/Account/Login", "/Account/Register", "/Account/AccessDenied", "/Account/Lockout", "/healthz", "/not-found", "/Error"];

    private readonly TwoAccounts accounts;

    public AuthorizationTests(TwoAccounts accounts) => this.accounts = accounts;

    public sealed class TwoAccounts : IAsyncLifetime
    {
        public FluxWebFactory Factory { get; } = new FluxWebFactory().With("Accounts:Registration", "Open");

        public SiteClient Admin { get; private set; } = default!;

        public SiteClient User { get; private set; } = default!;

        /// <summary>A generate-scope key of the administrator: a key must never reach admin functions, whoever owns it.</summary>
        public string AdminKey { get; private set; } = "";

        public async Task InitializeAsync()
        {
            Admin = new SiteClient(Factory.CreateBrowserClient());
            User = new SiteClient(Factory.CreateBrowserClient());
            await Admin.RegisterAsync("admin@example.com");
            await User.RegisterAsync("user@example.com");
            await using var scope = Factory.Services.CreateAsyncScope();
            var adminId = (await scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.UserManager<FluxUser>>().FindByEmailAsync("admin@example.com"))!.Id;
            var (key, error) = await Factory.Service<FluxWeb.Application.ApiKeys.ApiKeyService>()
                .CreateAsync(adminId, "admin script", FluxWeb.Domain.ApiKeys.ApiKeyScope.Generate, FluxWeb.Application.Audit.ChangeActor.CommandLine);
            AdminKey = key?.Key ?? throw new InvalidOperationException(error);
        }

        public Task DisposeAsync()
        {
            Factory.Dispose();
            return Task.CompletedTask;
        }
    }

    private static IEnumerable<Type> RoutableComponents() =>
        typeof(FluxWeb.Host.Components.App).Assembly.GetTypes()
            .Where(t => typeof(IComponent).IsAssignableFrom(t) && t.GetCustomAttributes<RouteAttribute>().Any());

    private static IEnumerable<string> Routes(Type component) => component.GetCustomAttributes<RouteAttribute>().Select(r => r.Template);

    private static bool IsAdminRoute(string route) =>
        route.TrimStart('/').StartsWith("admin", StringComparison.OrdinalIgnoreCase)
        || route.TrimStart('/').StartsWith("api/admin", StringComparison.OrdinalIgnoreCase)
        || route.TrimStart('/').StartsWith("api/v1/admin", StringComparison.OrdinalIgnoreCase);

    private IReadOnlyList<string> AdminEndpointRoutes()
    {
        var sources = accounts.Factory.Services.GetServices<EndpointDataSource>();
        return sources.SelectMany(s => s.Endpoints).OfType<RouteEndpoint>()
            .Select(e => "/" + e.RoutePattern.RawText!.TrimStart('/'))
            .Where(IsAdminRoute)
            .Where(r => !r.Contains('{', StringComparison.Ordinal))
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .ToList();
    }

    [Fact]
    public void Every_admin_page_requires_the_admin_role()
    {
        var adminPages = RoutableComponents().Where(t => Routes(t).Any(IsAdminRoute)).ToList();

        Assert.NotEmpty(adminPages);
        foreach (var page in adminPages)
        {
            var authorize = page.GetCustomAttributes<AuthorizeAttribute>(inherit: true).ToList();
            Assert.True(authorize.Any(a => a.Roles?.Split(',').Select(r => r.Trim()).Contains(Roles.Admin) == true),
                $"{page.FullName} serves {string.Join(", ", Routes(page))} but lacks [Authorize(Roles = \"Admin\")].");
            Assert.Empty(page.GetCustomAttributes<AllowAnonymousAttribute>(inherit: true));
        }
    }

    [Fact]
    public void Only_the_account_entry_pages_allow_anonymous_visitors()
    {
        var anonymousPages = RoutableComponents()
            .Where(t => t.GetCustomAttributes<AllowAnonymousAttribute>(inherit: true).Any())
            .SelectMany(Routes)
            .ToList();

        Assert.All(anonymousPages, route => Assert.Contains(route, AnonymousRoutes, StringComparer.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task A_user_is_refused_on_every_admin_route()
    {
        var routes = AdminEndpointRoutes();
        Assert.NotEmpty(routes);

        foreach (var route in routes)
        {
            var response = await accounts.User.Http.GetAsync(route);
            var refused = response.StatusCode == HttpStatusCode.Forbidden
                || (response.StatusCode == HttpStatusCode.Redirect && response.Headers.Location!.AbsolutePath == "/Account/AccessDenied");
            Assert.True(refused, $"GET {route} as a User returned {(int)response.StatusCode} {response.Headers.Location}");
        }
    }

    [Fact]
    public async Task An_api_key_is_refused_on_every_admin_route_even_the_administrators_own()
    {
        var routes = AdminEndpointRoutes();
        Assert.Contains("/admin/usage.csv", routes);
        Assert.Contains("/admin/audit.csv", routes);

        foreach (var accept in new[] { "text/html", "application/json" })
        {
            var script = accounts.Factory.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
            script.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", accounts.AdminKey);
            script.DefaultRequestHeaders.Accept.ParseAdd(accept);
            Assert.Equal(HttpStatusCode.OK, (await script.GetAsync("/api/v1/jobs")).StatusCode);
            foreach (var route in routes)
            {
                var response = await script.GetAsync(route);
                var refused = response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden
                    || (response.StatusCode == HttpStatusCode.Redirect && response.Headers.Location!.AbsolutePath is "/Account/Login" or "/Account/AccessDenied");
                Assert.True(refused, $"GET {route} with an API key ({accept}) returned {(int)response.StatusCode} {response.Headers.Location}");
            }
        }
    }

    [Fact]
    public async Task An_admin_reaches_every_admin_route()
    {
        foreach (var route in AdminEndpointRoutes())
        {
            var response = await accounts.Admin.Http.GetAsync(route);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {route} as Admin returned {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task The_admin_user_list_shows_real_accounts()
    {
        var html = await accounts.Admin.Http.GetStringAsync("/admin/users");

        Assert.Contains("admin@example.com", html, StringComparison.Ordinal);
        Assert.Contains("user@example.com", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_page_but_the_anonymous_ones_needs_sign_in()
    {
        var anonymous = accounts.Factory.CreateBrowserClient();
        var pages = RoutableComponents().SelectMany(Routes)
            .Where(r => !r.Contains('{', StringComparison.Ordinal))
            .Where(r => !AnonymousRoutes.Contains(r, StringComparer.OrdinalIgnoreCase))
            .Distinct()
            .ToList();

        Assert.Contains("/studio", pages);
        foreach (var page in pages)
        {
            var response = await anonymous.GetAsync(page);
            Assert.True(response.StatusCode == HttpStatusCode.Redirect && response.Headers.Location!.AbsolutePath == "/Account/Login",
                $"GET {page} anonymously returned {(int)response.StatusCode} {response.Headers.Location}");
        }
    }

    [Fact]
    public async Task Admin_api_calls_get_status_codes_not_login_pages()
    {
        var anonymous = accounts.Factory.CreateBrowserClient();
        anonymous.DefaultRequestHeaders.Accept.ParseAdd("application/json");

        var response = await anonymous.GetAsync("/admin/users");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Signed_in_pages_render_for_a_user()
    {
        foreach (var page in new[] { "/studio", "/gallery", "/history", "/Account/Manage" })
        {
            var response = await accounts.User.Http.GetAsync(page);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {page} returned {(int)response.StatusCode}");
        }

        var manage = await accounts.User.Http.GetStringAsync("/Account/Manage");
        Assert.Contains("user@example.com", manage, StringComparison.Ordinal);
        Assert.Contains("Commercial", manage, StringComparison.Ordinal);
    }
}
