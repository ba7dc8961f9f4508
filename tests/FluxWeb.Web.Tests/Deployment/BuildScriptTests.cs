using System.Diagnostics;
using System.Runtime.Versioning;

namespace FluxWeb.Web.Tests.Deployment;

/// <summary>
/// <c>./build.sh run</c> with a stand-in <c>dotnet</c> first on the PATH that records how it was
/// called: the script says what it does, passes serve options through, and refuses anything else
/// before it restores or builds anything. <c>./build.sh test</c> and <c>.ci/run</c> stop on a layout
/// violation, and the layout check itself (the real <c>dotnet format</c>) finds one.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class BuildScriptTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("fluxweb-build-sh").FullName;

    private string CallsFile => Path.Combine(folder, "dotnet-calls.txt");

    private const string LayoutCheck = "format whitespace --folder --verify-no-changes --exclude migrations artifacts";

    public BuildScriptTests() => FakeDotnet("");

    /// <summary>The stand-in records its arguments, then runs <paramref name="then"/> (exit 0 when empty).</summary>
    private void FakeDotnet(string then)
    {
        var fake = Path.Combine(folder, "dotnet");
        File.WriteAllText(fake, $"#!/bin/sh\necho \"$*\" >> '{CallsFile}'\n{then}");
        File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private Task<(int ExitCode, string Stdout, string Stderr, string[] DotnetCalls)> RunAsync(params string[] arguments) =>
        RunScriptAsync("build.sh", arguments);

    private async Task<(int ExitCode, string Stdout, string Stderr, string[] DotnetCalls)> RunScriptAsync(string script, params string[] arguments)
    {
        var start = new ProcessStartInfo("/bin/bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = folder };
        start.ArgumentList.Add(Path.Combine(DockerfileTests.RepositoryRoot(), script));
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

    [Fact]
    public async Task Test_checks_the_layout_first_and_stops_there_when_a_file_breaks_it()
    {
        FakeDotnet("[ \"$1\" = format ] && { echo 'Bad.cs(3,1): error WHITESPACE: Fix whitespace formatting.'; exit 2; }\nexit 0\n");

        var (code, stdout, stderr, calls) = await RunAsync("test");

        Assert.Equal(1, code);
        Assert.StartsWith("==> Checking the code's layout", stdout, StringComparison.Ordinal);
        Assert.Contains("'dotnet format whitespace --folder --exclude migrations artifacts' fixes them", stderr, StringComparison.Ordinal);
        // Nothing installed, nothing tested: the check is the first step.
        Assert.DoesNotContain("==> Installing", stdout, StringComparison.Ordinal);
        Assert.Equal([LayoutCheck], calls);
    }

    [Fact]
    public async Task Ci_reports_a_layout_failure_as_a_failed_run()
    {
        FakeDotnet("[ \"$1\" = format ] && exit 2\nexit 0\n");

        var (code, stdout, _, calls) = await RunScriptAsync(".ci/run");

        Assert.NotEqual(0, code);
        Assert.Equal("0 passed, 1 failed", stdout.TrimEnd('\n').Split('\n')[^1]);
        Assert.Equal([LayoutCheck], calls);
    }

    /// <summary>
    /// The real <c>dotnet format</c> with the repository's .editorconfig: a switch written the house way
    /// (a case's block level with its label) passes, the same switch with trailing spaces and the block
    /// indented under its label does not.
    /// </summary>
    [Fact]
    public async Task The_layout_check_finds_the_file_that_breaks_the_house_layout_and_only_that_one()
    {
        var code = Path.Combine(folder, "code");
        Directory.CreateDirectory(code);
        File.Copy(Path.Combine(DockerfileTests.RepositoryRoot(), ".editorconfig"), Path.Combine(code, ".editorconfig"));
        const string houseWay = """
            namespace Probe;

            public static class Good
            {
                public static int Twice(int? value)
                {
                    switch (value)
                    {
                        case null:
                            return 0;
                        default:
                        {
                            var twice = value.Value * 2;
                            return twice;
                        }
                    }
                }
            }

            """;
        await File.WriteAllTextAsync(Path.Combine(code, "Good.cs"), houseWay);
        await File.WriteAllTextAsync(Path.Combine(code, "Bad.cs"), houseWay
            .Replace("class Good", "class Bad", StringComparison.Ordinal)
            .Replace("return 0;", "return 0;   ", StringComparison.Ordinal)
            .Replace("""
                            {
                                var twice = value.Value * 2;
                                return twice;
                            }
                """, """
                                {
                                    var twice = value.Value * 2;
                                    return twice;
                                }
                """, StringComparison.Ordinal));

        var start = new ProcessStartInfo(RealDotnet(), ["format", "whitespace", "--folder", "--verify-no-changes"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = code,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        var report = await stdout + await stderr;

        Assert.True(process.ExitCode != 0, $"dotnet format accepted the badly laid out file:\n{report}");
        Assert.Contains("Bad.cs(10,", report, StringComparison.Ordinal);
        Assert.Contains("Bad.cs(12,", report, StringComparison.Ordinal);
        Assert.DoesNotContain("Good.cs", report, StringComparison.Ordinal);
    }

    /// <summary>The SDK that runs these tests (the stand-in in this class's folder is not on this process's PATH).</summary>
    private static string RealDotnet() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
