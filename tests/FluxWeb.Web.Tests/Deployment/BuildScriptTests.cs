using System.Diagnostics;
using System.Runtime.Versioning;

namespace FluxWeb.Web.Tests.Deployment;

/// <summary>
/// <c>./build.sh run</c> with a stand-in <c>dotnet</c> first on the PATH that records how it was
/// called: the script says what it does, passes serve options through, and refuses anything else
/// before it restores or builds anything.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class BuildScriptTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("fluxweb-build-sh").FullName;

    private string CallsFile => Path.Combine(folder, "dotnet-calls.txt");

    public BuildScriptTests()
    {
        var fake = Path.Combine(folder, "dotnet");
        File.WriteAllText(fake, $"#!/bin/sh\necho \"$*\" >> '{CallsFile}'\n");
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private async Task<(int ExitCode, string Stdout, string Stderr, string[] DotnetCalls)> RunAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("/bin/bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = folder };
        start.ArgumentList.Add(Path.Combine(DockerfileTests.RepositoryRoot(), "build.sh"));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["PATH"] = $"{folder}:{Environment.GetEnvironmentVariable("PATH")}";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        var calls = File.Exists(CallsFile) ? await File.ReadAllLinesAsync(CallsFile) : [];
        return (process.ExitCode, await stdout, await stderr, calls);
    }

    [Fact]
    public async Task Run_says_what_it_does_and_starts_the_server_with_the_serve_options_it_was_given()
    {
        var (code, stdout, stderr, calls) = await RunAsync("run", "--urls", "http://127.0.0.1:5099", "--Logging:LogLevel:Default=Warning", "--models", "/srv/models");

        Assert.True(code == 0, $"exit {code}: {stderr}");
        var said = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Collection(said,
            line => Assert.StartsWith("==> Restoring", line, StringComparison.Ordinal),
            line => Assert.StartsWith("==> Building", line, StringComparison.Ordinal),
            line => Assert.StartsWith("==> Starting FluxWeb: fluxweb serve --urls http://127.0.0.1:5099", line, StringComparison.Ordinal));
        Assert.Collection(calls,
            call => Assert.StartsWith("restore src/FluxWeb.Host/FluxWeb.Host.csproj", call, StringComparison.Ordinal),
            call => Assert.StartsWith("build src/FluxWeb.Host/FluxWeb.Host.csproj -c Release --no-restore", call, StringComparison.Ordinal),
            call => Assert.Equal("run --project src/FluxWeb.Host/FluxWeb.Host.csproj -c Release --no-build -- serve --urls http://127.0.0.1:5099 --Logging:LogLevel:Default=Warning --models /srv/models", call));
    }

    [Theory]
    [InlineData("models create-demo", "'models' is not one", true)]
    [InlineData("--urls http://127.0.0.1:5099 users list", "'users' is not one", false)]
    public async Task Run_refuses_what_is_not_a_serve_option_before_building_anything(string arguments, string expected, bool suggestsTheCommand)
    {
        var (code, stdout, stderr, calls) = await RunAsync(["run", .. arguments.Split(' ')]);

        Assert.Equal(2, code);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.Equal(suggestsTheCommand, stderr.Contains($"dotnet run --project src/FluxWeb.Host/FluxWeb.Host.csproj -c Release -- {arguments}", StringComparison.Ordinal));
        Assert.Empty(calls);
        Assert.Empty(stdout);
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
