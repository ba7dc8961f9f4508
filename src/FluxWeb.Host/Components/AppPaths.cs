using Microsoft.AspNetCore.Components;

namespace FluxWeb.Host.Components;

/// <summary>
/// Behind a proxy the app may live under a base path (<c>https://example.com/fluxweb/</c>, see
/// <c>ReverseProxy:PathBase</c>). The endpoints hand out URLs rooted at the app (<c>/api/v1/…</c>);
/// a page and its scripts must ask for them under the base path, which the browser's address
/// (<see cref="NavigationManager.BaseUri"/>) knows.
/// </summary>
internal static class AppPaths
{
    public static string Rooted(this NavigationManager navigation, string url) =>
        url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) ? BasePath(navigation) + url : url;

    public static string? RootedOrNull(this NavigationManager navigation, string? url) => url is null ? null : navigation.Rooted(url);

    /// <summary>The base path without its trailing slash: empty for an app at the root.</summary>
    public static string BasePath(this NavigationManager navigation) => new Uri(navigation.BaseUri).AbsolutePath.TrimEnd('/');
}
