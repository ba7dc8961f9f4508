namespace FluxWeb.Inference.Packages;

public sealed record PullRequest
{
    /// <summary>owner/name on the hub, e.g. black-forest-labs/FLUX.2-klein-4B.</summary>
    public required string Repo { get; init; }

    public string Revision { get; init; } = "main";

    /// <summary>Bearer token for gated or private repos (the 9B repos are gated).</summary>
    public string? Token { get; init; }

    /// <summary>Keep the downloaded files after the build (they are hard links of the package's weights when the file system allows).</summary>
    public bool KeepDownload { get; init; }

    /// <summary>How to build once the files are here; <see cref="CheckpointBuildRequest.From"/> and <see cref="CheckpointBuildRequest.SourceName"/> are filled in.</summary>
    public CheckpointBuildRequest Build { get; init; } = new() { From = "" };
}

public sealed record PullResult(HubRepo Repo, HubSelection Selection, string DownloadFolder, CheckpointBuildResult Build, TimeSpan Elapsed);

/// <summary>
/// <c>models pull</c>: downloads the official files of a hub repo into
/// <c>&lt;models&gt;/.downloads/&lt;owner&gt;--&lt;name&gt;/</c> (a hidden folder: the catalog ignores it, and an
/// interrupted pull resumes from it), then builds the package from them. Nothing is ever downloaded
/// unless this is asked for.
/// </summary>
public static class ModelPuller
{
    public const string DownloadsFolder = ".downloads";

    public static string DownloadFolderFor(string modelsDirectory, string repo) =>
        Path.Combine(Path.GetFullPath(modelsDirectory), DownloadsFolder, repo.Replace("/", "--", StringComparison.Ordinal));

    public static async Task<PullResult> PullAsync(ModelDownloader downloader, string modelsDirectory, PullRequest request, IProgress<DownloadProgress>? downloadProgress, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        progress?.Report($"listing {request.Repo}@{request.Revision} on {downloader.Endpoint.Host}");
        var repo = await downloader.ListAsync(request.Repo, request.Revision, request.Token, cancellationToken);
        var selection = ModelDownloader.SelectPackageFiles(repo);
        if (selection.Layout == CheckpointLayout.BflSingleFile)
        {
            var absent = new[] { ("--text-encoder <folder>", request.Build.TextEncoder), ("--vae <file|folder>", request.Build.Vae), ("--tokenizer <tokenizer.json>", request.Build.Tokenizer) }
                .Where(o => o.Item2 is null).Select(o => o.Item1).ToList();
            if (absent.Count > 0)
            {
                throw new ArgumentException($"{request.Repo} holds only a single-file transformer ({selection.Files[0].Path}): also pass {string.Join(", ", absent)}.");
            }
        }

        var total = selection.Files.Sum(f => f.Size ?? 0);
        progress?.Report(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{repo.Repo} at {repo.Commit[..Math.Min(12, repo.Commit.Length)]}{(repo.Gated is not null ? $" (gated: {repo.Gated})" : "")}: {selection.Files.Count} files, {(total >= 1e9 ? $"{total / 1e9:0.00} GB" : $"{total / 1e6:0.0} MB")} to fetch; skipping {selection.Skipped.Count} ({string.Join(", ", selection.Skipped.Take(4))}{(selection.Skipped.Count > 4 ? ", …" : "")})"));

        var folder = DownloadFolderFor(modelsDirectory, request.Repo);
        await downloader.DownloadAsync(repo, selection.Files, folder, request.Token, downloadProgress, cancellationToken);

        var from = selection.Layout == CheckpointLayout.Diffusers ? folder : Path.Combine(folder, selection.Files[0].Path);
        var build = CheckpointPackageBuilder.Build(modelsDirectory, request.Build with
        {
            From = from,
            SourceName = $"{repo.Repo}@{repo.Commit}",
        }, progress);

        if (!request.KeepDownload)
        {
            // The package holds its own links (or copies) of the weights; the download folder is only a resume cache.
            Directory.Delete(folder, recursive: true);
        }

        return new PullResult(repo, selection, folder, build, stopwatch.Elapsed);
    }
}
