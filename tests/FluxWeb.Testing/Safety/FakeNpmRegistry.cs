using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Testing.Safety;

/// <summary>
/// A local npm registry on a free port with the two routes an install uses: the package metadata
/// (<c>GET /nsfwjs</c>, abbreviated like registry.npmjs.org's, naming the tarball and its sha512) and
/// the tarball (<c>GET /nsfwjs/-/nsfwjs-4.4.0.tgz</c>). It can serve a tampered tarball under the
/// true integrity.
/// </summary>
public sealed class FakeNpmRegistry : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly byte[] tarball;

    private FakeNpmRegistry(WebApplication app, byte[] tarball)
    {
        this.app = app;
        this.tarball = tarball;
    }

    public string Url { get; private set; } = "";

    public string Integrity { get; } = NsfwjsPackage.LockedIntegrity();

    /// <summary>Serve the tarball with one byte changed (the metadata still gives the true sha512).</summary>
    public bool Tamper { get; set; }

    public ConcurrentQueue<(string Path, string Accept)> Requests { get; } = new();

    public static async Task<FakeNpmRegistry> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var built = builder.Build();
        var registry = new FakeNpmRegistry(built, File.ReadAllBytes(NsfwjsPackage.TarballPath));
        built.Use(async (context, next) =>
        {
            registry.Requests.Enqueue((context.Request.Path.Value ?? "", context.Request.Headers.Accept.ToString()));
            await next(context);
        });
        built.MapGet("/nsfwjs", registry.Metadata);
        built.MapGet("/nsfwjs/-/{file}", registry.Tarball);
        await built.StartAsync();
        var address = built.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        registry.Url = $"http://127.0.0.1:{new Uri(address).Port}";
        return registry;
    }

    private IResult Metadata() => Results.Json(new Dictionary<string, object>
    {
        ["name"] = "nsfwjs",
        ["dist-tags"] = new { latest = NsfwjsPackage.Version },
        ["versions"] = new Dictionary<string, object>
        {
            [NsfwjsPackage.Version] = new
            {
                name = "nsfwjs",
                version = NsfwjsPackage.Version,
                dist = new { tarball = $"{Url}/nsfwjs/-/nsfwjs-{NsfwjsPackage.Version}.tgz", integrity = Integrity, shasum = "0000000000000000000000000000000000000000" },
            },
        },
    }, contentType: "application/vnd.npm.install-v1+json");

    private IResult Tarball(string file)
    {
        if (file != $"nsfwjs-{NsfwjsPackage.Version}.tgz")
        {
            return Results.NotFound();
        }

        var bytes = tarball;
        if (Tamper)
        {
            bytes = (byte[])tarball.Clone();
            bytes[bytes.Length / 2] ^= 0x01;
        }

        return Results.Bytes(bytes, "application/octet-stream");
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
