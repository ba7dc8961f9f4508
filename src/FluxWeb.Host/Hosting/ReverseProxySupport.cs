using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace FluxWeb.Host.Hosting;

/// <summary>
/// Running behind nginx, Caddy, Traefik or a load balancer (section <c>ReverseProxy</c>). The proxy's
/// <c>X-Forwarded-For</c>, <c>-Proto</c> and <c>-Prefix</c> are believed only from the addresses
/// listed here, or, while none are listed, from the loopback (a proxy on the same machine); from
/// anyone else they are ignored, so a client cannot pose as another address or as HTTPS.
/// </summary>
public sealed class ReverseProxyOptions
{
    public const string SectionName = "ReverseProxy";

    /// <summary>Proxies' own addresses, e.g. <c>10.0.0.5</c>.</summary>
    public List<string> KnownProxies { get; set; } = [];

    /// <summary>Networks the proxies connect from, e.g. <c>172.18.0.0/16</c> (a Docker network).</summary>
    public List<string> KnownNetworks { get; set; } = [];

    /// <summary>How many proxies in a row (each adds its own entry to <c>X-Forwarded-For</c>).</summary>
    public int ForwardLimit { get; set; } = 1;

    /// <summary>
    /// The path the app is published under when the proxy passes it on unchanged, e.g. <c>/fluxweb</c>
    /// for <c>https://example.com/fluxweb/</c>. A proxy that strips the prefix sends
    /// <c>X-Forwarded-Prefix</c> instead, and this stays empty.
    /// </summary>
    public string PathBase { get; set; } = "";

    internal IEnumerable<string> Problems()
    {
        foreach (var proxy in KnownProxies.Where(p => !IPAddress.TryParse(p, out _)))
        {
            yield return $"{SectionName}:KnownProxies: '{proxy}' is not an IP address.";
        }

        foreach (var network in KnownNetworks.Where(n => !System.Net.IPNetwork.TryParse(n, out _)))
        {
            yield return $"{SectionName}:KnownNetworks: '{network}' is not a network in CIDR notation (e.g. 172.18.0.0/16).";
        }

        if (ForwardLimit < 1)
        {
            yield return $"{SectionName}:ForwardLimit must be at least 1.";
        }

        if (PathBase.Length > 0 && (!PathBase.StartsWith('/') || PathBase.EndsWith('/') || PathBase.Contains("//", StringComparison.Ordinal) || PathBase.Contains('?') || PathBase.Contains('#')))
        {
            yield return $"{SectionName}:PathBase '{PathBase}' must start with '/' and not end with one, e.g. /fluxweb.";
        }
    }
}

internal static class ReverseProxySupport
{
    public static IServiceCollection AddReverseProxySupport(this IServiceCollection services)
    {
        services.AddOptions<ReverseProxyOptions>()
            .BindConfiguration(ReverseProxyOptions.SectionName)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<ReverseProxyOptions>, ProblemsValidator>();
        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<ReverseProxyOptions>>((forwarded, proxy) =>
        {
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedPrefix;
            forwarded.ForwardLimit = proxy.Value.ForwardLimit;
            if (proxy.Value.KnownProxies.Count + proxy.Value.KnownNetworks.Count > 0)
            {
                // Exactly the listed ones: ASP.NET Core's defaults would keep trusting the loopback.
                forwarded.KnownProxies.Clear();
                forwarded.KnownIPNetworks.Clear();
            }

            foreach (var address in proxy.Value.KnownProxies)
            {
                forwarded.KnownProxies.Add(IPAddress.Parse(address));
            }

            foreach (var network in proxy.Value.KnownNetworks)
            {
                forwarded.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
            }
        });
        return services;
    }

    /// <summary>First in the pipeline: everything after it sees the client's address, scheme and the app's base path.</summary>
    public static void UseReverseProxySupport(this WebApplication app)
    {
        app.UseForwardedHeaders();
        var pathBase = app.Services.GetRequiredService<IOptions<ReverseProxyOptions>>().Value.PathBase;
        if (pathBase.Length > 0)
        {
            app.UsePathBase(pathBase);
        }

        // Routing after the base path is taken off (WebApplication would otherwise route first).
        app.UseRouting();
    }

    private sealed class ProblemsValidator : IValidateOptions<ReverseProxyOptions>
    {
        public ValidateOptionsResult Validate(string? name, ReverseProxyOptions options)
        {
            var problems = options.Problems().ToList();
            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }
}
