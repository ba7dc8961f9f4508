using System.Globalization;
using System.Text.Json;

namespace FluxWeb.Browser.Tests.Published;

/// <summary>The build's own account of its static assets (<c>fluxweb.staticwebassets.endpoints.json</c>): per route, each encoding's length and the content's SHA-256.</summary>
public sealed class StaticAssetManifest
{
    private readonly ILookup<string, Endpoint> byRoute;

    private StaticAssetManifest(ILookup<string, Endpoint> byRoute) => this.byRoute = byRoute;

    public sealed record Endpoint(string Route, string AssetFile, string? ContentEncoding, long Length, string Integrity);

    public static StaticAssetManifest Load(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var endpoints = document.RootElement.GetProperty("Endpoints").EnumerateArray().Select(e =>
        {
            string? Header(string name) => e.GetProperty("ResponseHeaders").EnumerateArray()
                .Where(h => h.GetProperty("Name").GetString() == name).Select(h => h.GetProperty("Value").GetString()).FirstOrDefault();
            var integrity = e.GetProperty("EndpointProperties").EnumerateArray()
                .Where(p => p.GetProperty("Name").GetString() == "integrity").Select(p => p.GetProperty("Value").GetString()).FirstOrDefault();
            return new Endpoint(
                e.GetProperty("Route").GetString()!,
                e.GetProperty("AssetFile").GetString()!,
                Header("Content-Encoding"),
                long.Parse(Header("Content-Length")!, CultureInfo.InvariantCulture),
                integrity ?? "");
        });
        return new StaticAssetManifest(endpoints.ToLookup(e => e.Route, StringComparer.Ordinal));
    }

    public IReadOnlyList<Endpoint> For(string route) => [.. byRoute[route]];
}
