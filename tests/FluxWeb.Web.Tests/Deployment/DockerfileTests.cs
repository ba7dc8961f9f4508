using System.Diagnostics;

namespace FluxWeb.Web.Tests.Deployment;

/// <summary>No Docker engine runs in CI, so the Dockerfile is linted and its promises checked as text.</summary>
public sealed class DockerfileTests
{
    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "FluxWeb.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("FluxWeb.sln not found above the test folder.");
    }

    private static string Dockerfile() => File.ReadAllText(Path.Combine(RepositoryRoot(), "Dockerfile"));

    [Fact]
    public async Task Dockerfile_passes_the_linter()
    {
        var root = RepositoryRoot();
        var linter = Path.Combine(root, "tools", "node_modules", ".bin", "dockerfilelint");
        Assert.True(File.Exists(linter), $"{linter} is missing: run the README's test command (./build.sh test), which installs it.");

        using var process = Process.Start(new ProcessStartInfo(linter, "Dockerfile")
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.True(process.ExitCode == 0, $"dockerfilelint reported problems:\n{output}\n{error}");
    }

    [Fact]
    public void Dockerfile_builds_self_contained_on_cuda_and_runs_as_non_root()
    {
        var dockerfile = Dockerfile();

        Assert.Contains("FROM mcr.microsoft.com/dotnet/sdk:10.0", dockerfile, StringComparison.Ordinal);
        Assert.Matches(@"FROM nvidia/cuda:13\.[0-9.]+-cudnn-runtime-ubuntu24\.04", dockerfile);
        Assert.Contains("--self-contained", dockerfile, StringComparison.Ordinal);
        Assert.Contains("-r linux-x64", dockerfile, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^USER\s+(?!root\b)\S+", dockerfile);
        Assert.Matches(@"(?m)^HEALTHCHECK\b.*healthz", dockerfile);
        Assert.Matches(@"(?m)^ENTRYPOINT\s+\[""/app/fluxweb""", dockerfile);
        Assert.Matches(@"(?m)^VOLUME\s+.*/data", dockerfile);
        Assert.Matches(@"(?m)^VOLUME\s+.*/models", dockerfile);
        // The image is for GPU boxes: without a usable GPU it must refuse to start, not fall back to the CPU.
        Assert.Matches(@"(?m)^\s+Inference__Device=Cuda\b", dockerfile);
    }

    [Fact]
    public void The_runtime_stage_writes_only_to_its_volumes_and_tmp_so_a_read_only_root_works()
    {
        var runtime = Dockerfile()[Dockerfile().LastIndexOf("\nFROM ", StringComparison.Ordinal)..].Replace("\\\n", " ", StringComparison.Ordinal);
        var environment = System.Text.RegularExpressions.Regex.Matches(runtime, @"(?m)^ENV\s+(.+)$")
            .SelectMany(m => m.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(pair => pair.Split('=', 2))
            .ToDictionary(pair => pair[0], pair => pair[1], StringComparer.Ordinal);

        Assert.Equal("/data", environment["FluxWeb__DataDirectory"]);
        Assert.Equal("/models", environment["FluxWeb__ModelsDirectory"]);
        Assert.Equal("Cuda", environment["Inference__Device"]);
        Assert.Equal("json", environment["Logging__Console__FormatterName"]);
        // The classifier is installed into the image at build time and only read at run time.
        Assert.Equal("/opt/fluxweb/safety", environment["Provenance__Filters__ClassifierDirectory"]);
        Assert.Matches(@"(?m)^RUN /app/fluxweb safety install\b", runtime);
        string[] readOnly = ["Provenance__Filters__ClassifierDirectory"];

        // Every other path the image's environment names for the app to write is a volume or /tmp (a tmpfs with --read-only).
        foreach (var (key, value) in environment.Where(e => e.Value.StartsWith('/') && !readOnly.Contains(e.Key)))
        {
            Assert.True(value.StartsWith("/data", StringComparison.Ordinal) || value.StartsWith("/models", StringComparison.Ordinal) || value.StartsWith("/tmp/", StringComparison.Ordinal), $"{key}={value} is neither a volume nor under /tmp");
        }

        Assert.Contains("--read-only --tmpfs /tmp", Dockerfile(), StringComparison.Ordinal);
        Assert.Matches(@"(?m)^WORKDIR\s+/home/fluxweb\s*$", runtime);
    }
}
