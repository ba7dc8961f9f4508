using System.Text.Json;
using FluxWeb.Host.Cli;
using FluxWeb.Inference.Packages;
using FluxWeb.Testing;
using Xunit.Abstractions;

namespace FluxWeb.Web.Tests.Cli;

/// <summary>
/// <c>fluxweb models pull</c> against a local hub serving a tiny checkpoint in the official repo
/// layout (plus the files a pull must skip): download, resume, hash check, token, build.
/// </summary>
public sealed class ModelsPullCliTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Repo = "black-forest-labs/FLUX.2-klein-tiny";
    private const string Token = "hf_testtoken123";
    private const string TransformerFile = "transformer/diffusion_pytorch_model.safetensors";
    private const string TextShard = "text_encoder/model-00001-of-00002.safetensors";

    private static readonly string[] MustSkip =
    [
        "flux-2-klein-tiny.safetensors",
        "transformer/diffusion_pytorch_model.fp16.safetensors",
        "text_encoder/pytorch_model.bin",
        "README.md",
        "tokenizer/tokenizer_config.json",
    ];

    private readonly TempFolder folder = new();
    private FakeHuggingFaceHub hub = null!;

    public async Task InitializeAsync()
    {
        var repo = folder.Combine("repo");
        TinyCheckpoint.WriteDiffusers(repo);
        // What the real repo also holds and a package does not need.
        TinyCheckpoint.WriteBflTransformer(Path.Combine(repo, "flux-2-klein-tiny.safetensors"));
        File.Copy(Path.Combine(repo, TransformerFile), Path.Combine(repo, "transformer", "diffusion_pytorch_model.fp16.safetensors"));
        File.WriteAllText(Path.Combine(repo, "text_encoder", "pytorch_model.bin"), "pickle");
        File.WriteAllText(Path.Combine(repo, "README.md"), "---\nlicense: apache-2.0\n---\n");
        hub = await FakeHuggingFaceHub.StartAsync(repo, Repo);
    }

    public async Task DisposeAsync()
    {
        await hub.DisposeAsync();
        folder.Dispose();
    }

    private static async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await FluxWebCli.RunAsync(args, new CliOutput(stdout, stderr));
        return (code, stdout.ToString(), stderr.ToString());
    }

    private string[] PullArgs(params string[] extra) =>
        ["models", "pull", Repo, "--endpoint", hub.Endpoint, "--licence", "Apache-2.0", "--precision", "fp32", "--models", folder.Combine("models"), "--data", folder.Combine("data"), .. extra];

    [Fact]
    public async Task Pull_downloads_only_what_a_package_needs_resumes_after_dropped_connections_and_builds()
    {
        hub.RequiredToken = Token;
        hub.DropConnection(TransformerFile);
        hub.DropConnection(TextShard);

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        var (code, stdout, stderr) = await RunAsync(PullArgs("--token", Token, "--id", "tiny", "--json"));
        output.WriteLine($"pull took {stopwatch.Elapsed.TotalSeconds:0.0} s\n{stderr}{stdout}");

        Assert.True(code == 0, stderr);
        var result = JsonDocument.Parse(stdout.Trim()).RootElement;
        Assert.Equal("tiny", result.GetProperty("id").GetString());
        Assert.Equal("Apache-2.0", result.GetProperty("licence").GetString());
        Assert.True(result.GetProperty("hardLinkedBytes").GetInt64() > 0);

        // Resumed: the second request for a dropped file asks for the rest and gets 206.
        foreach (var dropped in new[] { TransformerFile, TextShard })
        {
            var requests = hub.StorageRequestsFor(dropped).ToList();
            Assert.Equal(2, requests.Count);
            Assert.Null(requests[0].Range);
            Assert.Matches("^bytes=[1-9][0-9]*-$", requests[1].Range);
            Assert.Equal(206, requests[1].Status);
        }

        Assert.Contains("resuming from byte", stderr, StringComparison.Ordinal);
        Assert.Matches(@"transformer/diffusion_pytorch_model\.safetensors  [0-9.]+ KiB / [0-9.]+ KiB \(100%\)  [0-9.]+ [KMG]?i?B/s  done, SHA-256 ok", stderr);
        Assert.Matches(@"model_index\.json  [0-9]+ B / [0-9]+ B \(100%\)  .*done, git blob id ok", stderr);
        foreach (var skipped in MustSkip)
        {
            Assert.DoesNotContain(hub.Requests, r => r.Path.EndsWith(skipped, StringComparison.Ordinal));
        }

        // The token went to the hub, never to the storage host it redirected to.
        Assert.All(hub.Requests.Where(r => r.Path.Contains("/resolve/", StringComparison.Ordinal)), r => Assert.True(r.HadToken));
        Assert.All(hub.Requests.Where(r => r.Path.StartsWith("/storage/", StringComparison.Ordinal)), r => Assert.False(r.HadToken));

        var package = folder.Combine("models", "tiny");
        var manifest = ModelPackageManifest.Read(Path.Combine(package, ModelPackageManifest.FileName));
        Assert.Equal($"{Repo}@{FakeHuggingFaceHub.Commit}", manifest.Build!.Source);
        Assert.Equal("bf16", manifest.Precision.Weights);
        Assert.True(ModelPackageVerifier.Verify(package).Ok);
        Assert.False(Directory.Exists(ModelPuller.DownloadFolderFor(folder.Combine("models"), Repo)), "the download folder is removed after a build");
        var (_, list, _) = await RunAsync("models", "list", "--models", folder.Combine("models"));
        Assert.Contains("tiny", list, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_gated_repo_without_a_token_says_how_to_get_access()
    {
        hub.RequiredToken = Token;

        var (code, _, stderr) = await RunAsync(PullArgs());

        Assert.NotEqual(0, code);
        var line = Assert.Single(stderr.Trim().Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Contains("401", line, StringComparison.Ordinal);
        Assert.Contains("accept the licence on huggingface.co", line, StringComparison.Ordinal);
        Assert.Contains("pass --token", line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(folder.Combine("models", "test-h64-d2-s2")));

        var (wrongCode, _, wrongError) = await RunAsync(PullArgs("--token", "hf_wrong"));
        Assert.NotEqual(0, wrongCode);
        Assert.Contains("accept the licence", wrongError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_whose_hash_does_not_match_is_refused_and_deleted()
    {
        const string vae = "vae/diffusion_pytorch_model.safetensors";
        hub.Corrupt.Add(vae);

        var (code, _, stderr) = await RunAsync(PullArgs());

        Assert.NotEqual(0, code);
        var line = stderr.Trim().Split('\n')[^1];
        Assert.StartsWith($"error: {vae}: the downloaded file's hash", line, StringComparison.Ordinal);
        Assert.Contains("does not match the repo's", line, StringComparison.Ordinal);
        var downloads = ModelPuller.DownloadFolderFor(folder.Combine("models"), Repo);
        Assert.False(File.Exists(Path.Combine(downloads, vae)));
        Assert.False(File.Exists(Path.Combine(downloads, vae + ".partial")));
        Assert.True(File.Exists(Path.Combine(downloads, TransformerFile)), "files fetched before the bad one stay for the next run");
        Assert.DoesNotContain(Directory.GetDirectories(folder.Combine("models")), d => !Path.GetFileName(d).StartsWith('.'));
    }

    [Fact]
    public async Task A_partial_file_from_an_earlier_run_is_resumed_not_restarted()
    {
        using var downloader = new ModelDownloader(new ModelDownloadOptions { HuggingFaceEndpoint = hub.Endpoint, Retries = 0, RetryDelay = TimeSpan.Zero });
        var repo = await downloader.ListAsync(Repo, "main", token: null, CancellationToken.None);
        var file = repo.Files.Single(f => f.Path == TransformerFile);
        var target = folder.Combine("downloads");
        hub.DropConnection(TransformerFile);

        // No retries: the dropped transfer ends the run and leaves the first half behind.
        await Assert.ThrowsAsync<ModelDownloadException>(() => downloader.DownloadFileAsync(repo, file, target, null, null, CancellationToken.None));
        var partial = Path.Combine(target, TransformerFile + ".partial");
        var kept = new FileInfo(partial).Length;
        Assert.InRange(kept, 1, file.Size!.Value - 1);

        await downloader.DownloadFileAsync(repo, file, target, null, null, CancellationToken.None);

        var second = hub.StorageRequestsFor(TransformerFile).Last();
        Assert.Equal($"bytes={kept}-", second.Range);
        Assert.Equal(206, second.Status);
        Assert.Equal(file.Sha256, ModelPackageWriter.HashFile(Path.Combine(target, TransformerFile)));
        Assert.False(File.Exists(partial));
    }

    [Fact]
    public async Task A_single_file_fp8_repo_is_pulled_and_built_with_the_local_text_encoder_vae_and_tokenizer()
    {
        const string fp8Repo = "black-forest-labs/FLUX.2-klein-tiny-fp8";
        var repo = folder.Combine("fp8-repo");
        TinyCheckpoint.WriteBflTransformer(Path.Combine(repo, "flux-2-klein-tiny-fp8.safetensors"), fp8: true);
        File.WriteAllText(Path.Combine(repo, "README.md"), "fp8 weights only");
        TinyCheckpoint.WriteTextEncoder(folder.Combine("qwen3"));
        TinyCheckpoint.WriteVae(folder.Combine("ae.safetensors"));
        await using var fp8Hub = await FakeHuggingFaceHub.StartAsync(repo, fp8Repo);
        string[] common = ["models", "pull", fp8Repo, "--endpoint", fp8Hub.Endpoint, "--licence", "Apache-2.0", "--precision", "fp32", "--models", folder.Combine("models")];

        var (refusedCode, _, refused) = await RunAsync(common);

        Assert.NotEqual(0, refusedCode);
        Assert.Equal($"error: {fp8Repo} holds only a single-file transformer (flux-2-klein-tiny-fp8.safetensors): also pass --text-encoder <folder>, --vae <file|folder>, --tokenizer <tokenizer.json>.", refused.Trim().Split('\n')[^1]);
        Assert.DoesNotContain(fp8Hub.Requests, r => r.Path.StartsWith("/storage/", StringComparison.Ordinal));

        var (code, stdout, stderr) = await RunAsync([.. common, "--text-encoder", folder.Combine("qwen3"), "--vae", folder.Combine("ae.safetensors"), "--tokenizer", TinyCheckpoint.TokenizerPath, "--json"]);

        Assert.True(code == 0, stderr);
        var result = JsonDocument.Parse(stdout.Trim()).RootElement;
        Assert.Equal("test-h64-d2-s2-fp8", result.GetProperty("id").GetString());
        Assert.Equal("fp8", result.GetProperty("weights").GetString());
        Assert.True(ModelPackageVerifier.Verify(folder.Combine("models", "test-h64-d2-s2-fp8")).Ok);
        Assert.DoesNotContain(fp8Hub.Requests, r => r.Path.EndsWith("README.md", StringComparison.Ordinal));
    }

    [Fact]
    public void Package_files_are_selected_from_the_repo_listing()
    {
        var listing = new HubRepo(Repo, "main", FakeHuggingFaceHub.Commit, null,
        [
            .. new[] { "model_index.json", "transformer/config.json", TransformerFile, "transformer/diffusion_pytorch_model.fp16.safetensors", "text_encoder/config.json", TextShard, "text_encoder/model-00002-of-00002.safetensors", "text_encoder/model.safetensors.index.json", "text_encoder/pytorch_model.bin", "vae/config.json", "vae/diffusion_pytorch_model.safetensors", "tokenizer/tokenizer.json", "tokenizer/vocab.json", "scheduler/scheduler_config.json", "flux-2-klein-tiny.safetensors", ".gitattributes" }
                .Select(p => new HubFile(p, 1, null, "0")),
        ]);

        var selection = ModelDownloader.SelectPackageFiles(listing);

        Assert.Equal(CheckpointLayout.Diffusers, selection.Layout);
        Assert.Equal(
            ["model_index.json", "text_encoder/config.json", TextShard, "text_encoder/model-00002-of-00002.safetensors", "text_encoder/model.safetensors.index.json", "tokenizer/tokenizer.json", "transformer/config.json", TransformerFile, "vae/config.json", "vae/diffusion_pytorch_model.safetensors"],
            selection.Files.Select(f => f.Path).Order(StringComparer.Ordinal));

        var fp8Repo = listing with { Files = [new HubFile("flux-2-klein-4b-fp8.safetensors", 1, "a", null), new HubFile("README.md", 1, null, "0")] };
        var single = ModelDownloader.SelectPackageFiles(fp8Repo);
        Assert.Equal(CheckpointLayout.BflSingleFile, single.Layout);
        Assert.Equal("flux-2-klein-4b-fp8.safetensors", Assert.Single(single.Files).Path);
    }
}
