using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FluxWeb.Web.Tests.Cli;

/// <summary>
/// The parts of the Hugging Face Hub that <c>models pull</c> talks to, in-process on Kestrel
/// (127.0.0.1, a free port), serving one repo from a folder: the model API with LFS hashes and git
/// blob ids, <c>resolve/</c> answering with a redirect to a storage host (<c>localhost</c>, so a
/// different host than the hub), and storage honouring <c>Range</c>. It can require a token, drop
/// the connection halfway through a file once, or corrupt a file, and it records every request.
/// </summary>
internal sealed class FakeHuggingFaceHub : IAsyncDisposable
{
    public const string Commit = "6f1c0ffee0ddba11dec0de5eedfacade12345678";

    private readonly WebApplication app;
    private readonly string repoFolder;
    private readonly string repoId;
    private readonly ConcurrentDictionary<string, int> dropsLeft = new(StringComparer.Ordinal);

    private FakeHuggingFaceHub(WebApplication app, string repoFolder, string repoId)
    {
        this.app = app;
        this.repoFolder = repoFolder;
        this.repoId = repoId;
    }

    public sealed record Request(string Path, string? Range, bool HadToken, int Status);

    public string Endpoint { get; private set; } = "";

    public int Port { get; private set; }

    /// <summary>Downloads (not the file list, as on the real hub for gated repos) need <c>Authorization: Bearer</c> this.</summary>
    public string? RequiredToken { get; set; }

    /// <summary>Files served with one byte flipped while the API still lists the true hash.</summary>
    public HashSet<string> Corrupt { get; } = new(StringComparer.Ordinal);

    public ConcurrentQueue<Request> Requests { get; } = new();

    /// <summary>The next <paramref name="times"/> downloads of this file stop halfway through the body.</summary>
    public void DropConnection(string path, int times = 1) => dropsLeft[path] = times;

    public IEnumerable<Request> StorageRequestsFor(string path) => Requests.Where(r => r.Path == $"/storage/{path}");

    public static async Task<FakeHuggingFaceHub> StartAsync(string repoFolder, string repoId)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var hub = new FakeHuggingFaceHub(app, repoFolder, repoId);
        app.MapGet("/api/models/{owner}/{name}/revision/{revision}", hub.ListAsync);
        app.MapGet("/{owner}/{name}/resolve/{revision}/{**path}", hub.Resolve);
        app.MapGet("/storage/{**path}", hub.ServeAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        hub.Port = new Uri(address).Port;
        hub.Endpoint = $"http://127.0.0.1:{hub.Port}";
        return hub;
    }

    private IEnumerable<string> RepoFiles() =>
        Directory.EnumerateFiles(repoFolder, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(repoFolder, f).Replace('\\', '/')).Order(StringComparer.Ordinal);

    private async Task ListAsync(HttpContext context, string owner, string name, string revision)
    {
        Record(context, 200);
        if ($"{owner}/{name}" != repoId)
        {
            context.Response.StatusCode = 404;
            return;
        }

        var siblings = new JsonArray();
        foreach (var file in RepoFiles())
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(repoFolder, file));
            var sibling = new JsonObject
            {
                ["rfilename"] = file,
                ["size"] = bytes.Length,
                ["blobId"] = GitBlobId(bytes),
            };
            // As on the hub: weights and big files are in LFS, with the SHA-256 of their content.
            if (file.EndsWith(".safetensors", StringComparison.Ordinal) || bytes.Length > 1_000_000)
            {
                sibling["lfs"] = new JsonObject { ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(bytes)), ["size"] = bytes.Length, ["pointerSize"] = 134 };
            }

            siblings.Add(sibling);
        }

        await context.Response.WriteAsJsonAsync(new JsonObject
        {
            ["id"] = repoId,
            ["sha"] = Commit,
            ["gated"] = RequiredToken is null ? false : "manual",
            ["siblings"] = siblings,
        });
    }

    /// <summary>What git (and so the hub) names a blob: SHA-1 of "blob {size}\0" and the content.</summary>
    private static string GitBlobId(byte[] content)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
        hash.AppendData(Encoding.ASCII.GetBytes($"blob {content.Length}\0"));
        hash.AppendData(content);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private IResult Resolve(HttpContext context, string owner, string name, string revision, string path)
    {
        if (RequiredToken is not null && context.Request.Headers.Authorization != $"Bearer {RequiredToken}")
        {
            Record(context, 401);
            return Results.StatusCode(401);
        }

        if ($"{owner}/{name}" != repoId || revision != Commit || !File.Exists(Path.Combine(repoFolder, path)))
        {
            Record(context, 404);
            return Results.NotFound();
        }

        Record(context, 302);
        // The hub hands LFS downloads to a storage host with signed URLs; the token must not follow.
        return Results.Redirect($"http://localhost:{Port}/storage/{path}");
    }

    private async Task ServeAsync(HttpContext context, string path)
    {
        var bytes = await File.ReadAllBytesAsync(Path.Combine(repoFolder, path));
        if (Corrupt.Contains(path))
        {
            bytes[bytes.Length / 3] ^= 0x01;
        }

        long from = 0;
        var range = context.Request.Headers.Range.ToString();
        if (range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            from = long.Parse(range["bytes=".Length..^1], System.Globalization.CultureInfo.InvariantCulture);
        }

        if (from >= bytes.Length && from > 0)
        {
            Record(context, 416);
            context.Response.StatusCode = 416;
            return;
        }

        var status = from > 0 ? 206 : 200;
        Record(context, status);
        context.Response.StatusCode = status;
        context.Response.ContentLength = bytes.Length - from;
        if (from > 0)
        {
            context.Response.Headers.ContentRange = $"bytes {from}-{bytes.Length - 1}/{bytes.Length}";
        }

        var body = bytes.AsMemory((int)from);
        if (dropsLeft.TryGetValue(path, out var left) && left > 0 && dropsLeft.TryUpdate(path, left - 1, left))
        {
            await context.Response.Body.WriteAsync(body[..(body.Length / 2)]);
            await context.Response.Body.FlushAsync();
            context.Abort();
            return;
        }

        await context.Response.Body.WriteAsync(body);
    }

    private void Record(HttpContext context, int status) =>
        Requests.Enqueue(new Request(context.Request.Path.Value!, context.Request.Headers.Range.FirstOrDefault(), context.Request.Headers.Authorization.Count > 0, status));

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
