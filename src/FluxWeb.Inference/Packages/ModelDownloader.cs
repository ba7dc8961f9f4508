using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace FluxWeb.Inference.Packages;

/// <summary>One file of a Hugging Face repo: size and, for LFS files, the SHA-256 of its content; otherwise its git blob id.</summary>
public sealed record HubFile(string Path, long? Size, string? Sha256, string? GitBlobId);

/// <summary>A repo at one commit, as the hub's model API lists it.</summary>
public sealed record HubRepo(string Repo, string Revision, string Commit, string? Gated, IReadOnlyList<HubFile> Files);

/// <summary>What a package needs from a repo: the diffusers layout, or one BFL transformer file.</summary>
public sealed record HubSelection(CheckpointLayout Layout, IReadOnlyList<HubFile> Files, IReadOnlyList<string> Skipped);

public sealed record DownloadProgress(string File, long FileBytes, long? FileTotal, long SessionBytes, double BytesPerSecond, bool Completed, string? Note = null);

/// <summary>A download that cannot go on, with a message a person can act on.</summary>
public sealed class ModelDownloadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Downloads what a model package needs from a Hugging Face repo: lists the files through the model
/// API (<c>/api/models/{repo}/revision/{rev}?blobs=true</c>), then fetches each one to a
/// <c>.partial</c> file, resuming with an HTTP <c>Range</c> request after a dropped connection
/// (retried with a doubling delay), and checks its SHA-256 against the hub's LFS record (git blob id
/// for small files) before giving it its real name. A token is sent as a bearer header to the hub
/// only, never to the storage host a download redirects to.
/// </summary>
public sealed partial class ModelDownloader : IDisposable
{
    private const int MaxRedirects = 10;
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(250);

    private readonly HttpClient http;
    private readonly ModelDownloadOptions options;
    private readonly Uri endpoint;

    public ModelDownloader(ModelDownloadOptions options, HttpMessageHandler? handler = null)
    {
        this.options = options;
        if (!Uri.TryCreate(options.HuggingFaceEndpoint.TrimEnd('/') + "/", UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"The Hugging Face endpoint '{options.HuggingFaceEndpoint}' is not an http(s) address.");
        }

        endpoint = parsed;
        // Redirects are followed by hand so the token never leaves the hub's host.
        http = new HttpClient(handler ?? new SocketsHttpHandler { AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None }, disposeHandler: true)
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("FluxWeb", typeof(ModelDownloader).Assembly.GetName().Version?.ToString() ?? "1.0"));
    }

    public Uri Endpoint => endpoint;

    public static bool IsValidRepoId(string repo) => RepoIdPattern().IsMatch(repo);

    public async Task<HubRepo> ListAsync(string repo, string revision, string? token, CancellationToken cancellationToken)
    {
        if (!IsValidRepoId(repo))
        {
            throw new ArgumentException($"'{repo}' is not a Hugging Face repo id (owner/name).");
        }

        var uri = new Uri(endpoint, $"api/models/{RepoPath(repo)}/revision/{Uri.EscapeDataString(revision)}?blobs=true");
        string json;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                using var response = await SendAsync(uri, token, range: null, cancellationToken);
                await ThrowOnErrorAsync(response, repo, $"the file list of {repo}@{revision}");
                json = await response.Content.ReadAsStringAsync(cancellationToken);
                break;
            }
            catch (Exception ex) when (IsTransient(ex) && !cancellationToken.IsCancellationRequested && attempt <= options.Retries)
            {
                await Task.Delay(options.RetryDelay * Math.Pow(2, attempt - 1), cancellationToken);
            }
            catch (Exception ex) when (IsTransient(ex) && !cancellationToken.IsCancellationRequested)
            {
                throw new ModelDownloadException($"{endpoint.Host}: cannot list {repo}@{revision} ({ex.Message}).", ex);
            }
        }

        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            var commit = root.TryGetProperty("sha", out var sha) && sha.ValueKind == JsonValueKind.String ? sha.GetString()! : revision;
            var gated = root.TryGetProperty("gated", out var gatedElement) && gatedElement.ValueKind == JsonValueKind.String ? gatedElement.GetString() : null;
            var files = new List<HubFile>();
            foreach (var sibling in root.GetProperty("siblings").EnumerateArray())
            {
                var name = sibling.GetProperty("rfilename").GetString()!;
                long? size = sibling.TryGetProperty("size", out var sizeElement) && sizeElement.ValueKind == JsonValueKind.Number ? sizeElement.GetInt64() : null;
                string? sha256 = null;
                if (sibling.TryGetProperty("lfs", out var lfs) && lfs.ValueKind == JsonValueKind.Object)
                {
                    sha256 = lfs.TryGetProperty("sha256", out var s) ? s.GetString() : null;
                    size = lfs.TryGetProperty("size", out var lfsSize) && lfsSize.ValueKind == JsonValueKind.Number ? lfsSize.GetInt64() : size;
                }

                var blob = sibling.TryGetProperty("blobId", out var blobElement) && blobElement.ValueKind == JsonValueKind.String ? blobElement.GetString() : null;
                files.Add(new HubFile(name, size, sha256?.ToLowerInvariant(), blob?.ToLowerInvariant()));
            }

            return new HubRepo(repo, revision, commit, gated, files);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new ModelDownloadException($"{uri.GetLeftPart(UriPartial.Path)} did not return a model file list ({ex.Message}).", ex);
        }
    }

    /// <summary>
    /// The files a package is built from. The diffusers layout when the repo has one: model_index.json,
    /// each component's config.json, index and plain .safetensors, tokenizer/tokenizer.json; otherwise
    /// the one root-level .safetensors transformer of a single-file repo. Pickles (.bin, .pt), variant
    /// files (….fp16.safetensors) and BFL's duplicate root file beside a diffusers layout are skipped.
    /// </summary>
    public static HubSelection SelectPackageFiles(HubRepo repo)
    {
        var components = new[] { "transformer", "text_encoder", "vae" };
        var hasDiffusers = repo.Files.Any(f => f.Path.StartsWith("transformer/", StringComparison.Ordinal));
        var selected = new List<HubFile>();
        if (hasDiffusers)
        {
            foreach (var file in repo.Files)
            {
                var slash = file.Path.IndexOf('/', StringComparison.Ordinal);
                var folder = slash < 0 ? "" : file.Path[..slash];
                var name = file.Path[(slash + 1)..];
                var wanted = file.Path == "model_index.json"
                    || file.Path == "tokenizer/tokenizer.json"
                    || (components.Contains(folder) && !name.Contains('/', StringComparison.Ordinal)
                        && (name == "config.json" || CheckpointSources.IsPlainWeightName(name) || CheckpointSources.IsPlainIndexName(name)));
                if (wanted)
                {
                    selected.Add(file);
                }
            }

            var missing = components.Where(c => !selected.Any(f => f.Path.StartsWith(c + "/", StringComparison.Ordinal) && f.Path.EndsWith(".safetensors", StringComparison.Ordinal))).Select(c => c + "/*.safetensors").ToList();
            if (!selected.Any(f => f.Path == "tokenizer/tokenizer.json"))
            {
                missing.Add("tokenizer/tokenizer.json");
            }

            if (missing.Count > 0)
            {
                throw new ModelDownloadException($"{repo.Repo} has a diffusers layout but lacks {string.Join(", ", missing)}.");
            }

            return new HubSelection(CheckpointLayout.Diffusers, selected, repo.Files.Except(selected).Select(f => f.Path).ToList());
        }

        var candidates = repo.Files
            .Where(f => !f.Path.Contains('/', StringComparison.Ordinal) && f.Path.EndsWith(".safetensors", StringComparison.Ordinal))
            .Where(f => !f.Path.StartsWith("ae", StringComparison.OrdinalIgnoreCase) && !f.Path.Contains("vae", StringComparison.OrdinalIgnoreCase))
            .ToList();
        return candidates.Count switch
        {
            1 => new HubSelection(CheckpointLayout.BflSingleFile, candidates, repo.Files.Except(candidates).Select(f => f.Path).ToList()),
            0 => throw new ModelDownloadException($"{repo.Repo} has neither a diffusers layout (transformer/, text_encoder/, vae/, tokenizer/) nor a single .safetensors checkpoint."),
            _ => throw new ModelDownloadException($"{repo.Repo} holds several single-file checkpoints ({string.Join(", ", candidates.Select(c => c.Path))}); FluxWeb cannot tell which one to build."),
        };
    }

    /// <summary>Downloads the selected files into <paramref name="folder"/> (same relative paths), resuming what an earlier run left.</summary>
    public async Task DownloadAsync(HubRepo repo, IReadOnlyList<HubFile> files, string folder, string? token, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        foreach (var file in files)
        {
            await DownloadFileAsync(repo, file, folder, token, progress, cancellationToken);
        }
    }

    public async Task DownloadFileAsync(HubRepo repo, HubFile file, string folder, string? token, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        if (file.Path.Split('/').Any(part => part is "" or "." or ".."))
        {
            throw new ModelDownloadException($"{repo.Repo} lists a file with an unsafe path '{file.Path}'.");
        }

        var target = Path.Combine(folder, file.Path);
        var partial = target + ".partial";
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        if (File.Exists(target))
        {
            if ((file.Size is null || new FileInfo(target).Length == file.Size) && HashMatches(target, file, out _))
            {
                progress?.Report(new DownloadProgress(file.Path, new FileInfo(target).Length, file.Size, 0, 0, Completed: true, Note: "already downloaded"));
                return;
            }

            File.Delete(target);
        }

        var uri = new Uri(endpoint, $"{RepoPath(repo.Repo)}/resolve/{Uri.EscapeDataString(repo.Commit)}/{string.Join('/', file.Path.Split('/').Select(Uri.EscapeDataString))}");
        var stopwatch = Stopwatch.StartNew();
        long sessionBytes = 0;
        var failuresInARow = 0;
        var lastReport = TimeSpan.Zero;
        while (true)
        {
            var have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
            if (file.Size is { } size && have > size)
            {
                File.Delete(partial);
                have = 0;
            }

            if (file.Size is { } complete && have == complete && complete > 0)
            {
                break;
            }

            var before = have;
            try
            {
                using var response = await SendAsync(uri, token, have > 0 ? have : null, cancellationToken);
                if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
                {
                    // The partial file no longer fits what the server has: start over.
                    File.Delete(partial);
                    throw new RetryableDownloadException("the server refused to resume (416)");
                }

                await ThrowOnErrorAsync(response, repo.Repo, file.Path);
                var resumed = response.StatusCode == HttpStatusCode.PartialContent;
                if (resumed && response.Content.Headers.ContentRange?.From != have)
                {
                    File.Delete(partial);
                    throw new RetryableDownloadException($"the server resumed at byte {response.Content.Headers.ContentRange?.From} instead of {have}");
                }

                if (!resumed)
                {
                    have = 0;
                }

                await using (var output = new FileStream(partial, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
                await using (var body = await response.Content.ReadAsStreamAsync(cancellationToken))
                {
                    var buffer = new byte[1 << 20];
                    using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    while (true)
                    {
                        stall.CancelAfter(options.StallTimeout);
                        int read;
                        try
                        {
                            read = await body.ReadAsync(buffer, stall.Token);
                        }
                        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                        {
                            throw new RetryableDownloadException(string.Create(CultureInfo.InvariantCulture, $"no data for {options.StallTimeout.TotalSeconds:0} s"));
                        }

                        if (read == 0)
                        {
                            break;
                        }

                        await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                        have += read;
                        sessionBytes += read;
                        if (stopwatch.Elapsed - lastReport >= ProgressInterval)
                        {
                            lastReport = stopwatch.Elapsed;
                            progress?.Report(new DownloadProgress(file.Path, have, file.Size, sessionBytes, Rate(sessionBytes, stopwatch), Completed: false));
                        }
                    }
                }

                if (file.Size is null || have == file.Size)
                {
                    break;
                }

                if (have > file.Size)
                {
                    File.Delete(partial);
                    throw new ModelDownloadException($"{file.Path}: the server sent {have} bytes but the repo lists {file.Size}; the download was deleted.");
                }

                throw new RetryableDownloadException($"the connection closed after {have} of {file.Size} bytes");
            }
            catch (Exception ex) when (IsTransient(ex) && !cancellationToken.IsCancellationRequested)
            {
                var current = File.Exists(partial) ? new FileInfo(partial).Length : 0;
                failuresInARow = current > before ? 1 : failuresInARow + 1;
                if (failuresInARow > options.Retries)
                {
                    throw new ModelDownloadException($"{file.Path}: download failed {failuresInARow} times in a row ({ex.Message}); run pull again to resume from byte {current}.", ex);
                }

                var delay = options.RetryDelay * Math.Pow(2, failuresInARow - 1);
                progress?.Report(new DownloadProgress(file.Path, current, file.Size, sessionBytes, Rate(sessionBytes, stopwatch), Completed: false, Note: string.Create(CultureInfo.InvariantCulture, $"interrupted ({ex.Message.TrimEnd('.')}); resuming from byte {current} in {delay.TotalSeconds:0.#} s")));
                await Task.Delay(delay, cancellationToken);
            }
        }

        if (!HashMatches(partial, file, out var actual))
        {
            File.Delete(partial);
            throw new ModelDownloadException($"{file.Path}: the downloaded file's hash {actual} does not match the repo's {file.Sha256 ?? file.GitBlobId}; it was deleted. Run pull again; if it repeats, the mirror or a proxy is corrupting the file.");
        }

        File.Move(partial, target, overwrite: true);
        progress?.Report(new DownloadProgress(file.Path, new FileInfo(target).Length, file.Size, sessionBytes, Rate(sessionBytes, stopwatch), Completed: true, Note: file.Sha256 is not null ? "SHA-256 ok" : "git blob id ok"));
    }

    public void Dispose() => http.Dispose();

    /// <summary>SHA-256 against the LFS record; small (non-LFS) files are checked by their git blob id, SHA-1 of "blob {size}\0" + content.</summary>
    private static bool HashMatches(string path, HubFile file, out string actual)
    {
        if (file.Sha256 is not null)
        {
            actual = ModelPackageWriter.HashFile(path);
            return string.Equals(actual, file.Sha256, StringComparison.Ordinal);
        }

        if (file.GitBlobId is not null)
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
            hash.AppendData(Encoding.ASCII.GetBytes($"blob {new FileInfo(path).Length}\0"));
            using (var stream = File.OpenRead(path))
            {
                var buffer = new byte[1 << 20];
                int read;
                while ((read = stream.Read(buffer)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                }
            }

            actual = Convert.ToHexStringLower(hash.GetHashAndReset());
            return string.Equals(actual, file.GitBlobId, StringComparison.Ordinal);
        }

        throw new ModelDownloadException($"{file.Path}: the repo lists neither an LFS SHA-256 nor a blob id for it, so FluxWeb cannot check it.");
    }

    private async Task<HttpResponseMessage> SendAsync(Uri uri, string? token, long? range, CancellationToken cancellationToken)
    {
        for (var hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            if (token is not null && uri.Host == endpoint.Host && uri.Port == endpoint.Port && uri.Scheme == endpoint.Scheme)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            }

            if (range is { } from)
            {
                request.Headers.Range = new RangeHeaderValue(from, null);
            }

            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            var status = (int)response.StatusCode;
            if (status is not (301 or 302 or 303 or 307 or 308) || response.Headers.Location is null)
            {
                return response;
            }

            response.Dispose();
            if (hop >= MaxRedirects)
            {
                throw new ModelDownloadException($"{uri.GetLeftPart(UriPartial.Path)}: more than {MaxRedirects} redirects.");
            }

            uri = response.Headers.Location.IsAbsoluteUri ? response.Headers.Location : new Uri(uri, response.Headers.Location);
        }
    }

    private static async Task ThrowOnErrorAsync(HttpResponseMessage response, string repo, string what)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var status = (int)response.StatusCode;
        switch (status)
        {
            case 401 or 403:
                throw new ModelDownloadException($"{repo}: {status} {response.ReasonPhrase} for {what}. The repo is gated or private: accept the licence on huggingface.co (signed in) and pass --token (or set HF_TOKEN) with a token of that account.");
            case 404:
                throw new ModelDownloadException($"{repo}: {what} was not found (404): check the repo id and --revision.");
            case 408 or 429 or >= 500:
                throw new RetryableDownloadException($"{status} {response.ReasonPhrase}");
            default:
                var body = await response.Content.ReadAsStringAsync();
                throw new ModelDownloadException($"{repo}: {status} {response.ReasonPhrase} for {what}: {body[..Math.Min(200, body.Length)].ReplaceLineEndings(" ")}");
        }
    }

    private static bool IsTransient(Exception ex) => ex is RetryableDownloadException or HttpRequestException or IOException or TimeoutException;

    private static double Rate(long bytes, Stopwatch stopwatch) => bytes / Math.Max(stopwatch.Elapsed.TotalSeconds, 1e-3);

    private static string RepoPath(string repo) => string.Join('/', repo.Split('/').Select(Uri.EscapeDataString));

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")]
    private static partial Regex RepoIdPattern();

    private sealed class RetryableDownloadException(string message) : IOException(message);
}
