using System.Net;
using FluxWeb.Host.Cli;
using FluxWeb.Testing;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace FluxWeb.Web.Tests.Deployment;

/// <summary>
/// Behind a reverse proxy over real loopback connections (Kestrel, not the test server, which has no
/// client address): the proxy's forwarded scheme and prefix reach the app from a trusted address
/// only. The redirect to the sign-in page shows what the app believes its public address is.
/// </summary>
public sealed class ReverseProxyTests
{
    private static async Task<Uri> SignInRedirectAsync(FluxWebFactory factory, Dictionary<string, string> headers)
    {
        factory.UseKestrel(0);
        factory.StartServer();
        var address = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal);
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(address) };
        using var request = new HttpRequestMessage(HttpMethod.Get, "/studio");
        foreach (var (name, value) in headers)
        {
            request.Headers.Add(name, value);
        }

        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return response.Headers.Location!;
    }

    [Fact]
    public async Task A_proxy_on_the_same_machine_is_believed_by_default_scheme_and_prefix()
    {
        using var factory = new FluxWebFactory();
        var location = await SignInRedirectAsync(factory, new() { ["X-Forwarded-Proto"] = "https", ["X-Forwarded-For"] = "203.0.113.7", ["X-Forwarded-Prefix"] = "/fluxweb" });

        Assert.Equal("https", location.Scheme);
        Assert.Equal("/fluxweb/Account/Login", location.AbsolutePath);
        Assert.Equal("?ReturnUrl=%2Ffluxweb%2Fstudio", location.Query);
    }

    [Fact]
    public async Task Forwarded_headers_from_an_address_that_is_not_a_listed_proxy_are_ignored()
    {
        using var factory = new FluxWebFactory().With("ReverseProxy:KnownProxies:0", "10.20.30.40").With("ReverseProxy:KnownNetworks:0", "172.18.0.0/16");
        var location = await SignInRedirectAsync(factory, new() { ["X-Forwarded-Proto"] = "https", ["X-Forwarded-Prefix"] = "/elsewhere" });

        Assert.Equal("http", location.Scheme);
        Assert.Equal("/Account/Login", location.AbsolutePath);
    }

    [Fact]
    public async Task A_configured_path_base_is_where_the_app_lives()
    {
        using var factory = new FluxWebFactory().With("ReverseProxy:PathBase", "/studio-app");
        factory.UseKestrel(0);
        factory.StartServer();
        var address = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal);
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(address) };

        using var health = await http.GetAsync("/studio-app/healthz");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using var login = await http.GetAsync("/studio-app/Account/Login");
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        // The page's links and assets resolve under the base path.
        Assert.Contains("<base href=\"/studio-app/\" />", await login.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var redirect = await http.GetAsync("/studio-app/gallery");
        Assert.Equal("/studio-app/Account/Login", redirect.Headers.Location!.AbsolutePath);
    }

    [Theory]
    [InlineData("ReverseProxy:KnownProxies:0", "proxy.example.com", "is not an IP address")]
    [InlineData("ReverseProxy:KnownNetworks:0", "172.18.0.0", "CIDR")]
    [InlineData("ReverseProxy:PathBase", "fluxweb/", "must start with '/'")]
    [InlineData("ReverseProxy:ForwardLimit", "0", "at least 1")]
    public async Task Invalid_proxy_settings_stop_the_server_with_one_error_line(string key, string value, string reason)
    {
        using var folder = new TempFolder();
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        var code = await FluxWebCli.RunAsync(["serve", "--urls", "http://127.0.0.1:0", "--data", folder.Combine("data"), "--models", folder.Combine("models"), $"--{key}={value}"], new CliOutput(stdout, stderr));

        Assert.Equal(1, code);
        Assert.StartsWith("error: ", stderr.ToString(), StringComparison.Ordinal);
        Assert.Contains(reason, stderr.ToString(), StringComparison.Ordinal);
    }
}
