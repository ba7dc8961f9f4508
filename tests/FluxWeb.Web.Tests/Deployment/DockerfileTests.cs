using System.Diagnostics;

namespace FluxWeb.Web.Tests.Deployment;

/// <summary>No Docker engine runs in CI, so the Dockerfile is linted and its promises checked as text.</summary>
public sealed class DockerfileTests
{
    private static string RepositoryRoot()
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
}
