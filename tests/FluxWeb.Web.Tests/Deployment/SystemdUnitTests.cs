using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;
using System.Text.RegularExpressions;

namespace FluxWeb.Web.Tests.Deployment;

/// <summary>
/// deploy/fluxweb.service: checked by systemd's own tools (the test command installs Debian's
/// systemd when systemd-analyze is missing), and its promises read as text: the published
/// executable, a user of its own, state only in /var/lib/fluxweb, and the hardening the README names.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed partial class SystemdUnitTests
{
    private static string UnitPath() => Path.Combine(DockerfileTests.RepositoryRoot(), "deploy", "fluxweb.service");

    private static Dictionary<string, List<string>> Service()
    {
        var settings = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var section = "";
        foreach (var raw in File.ReadAllLines(UnitPath()))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
            {
                continue;
            }

            if (line.StartsWith('['))
            {
                section = line.Trim('[', ']');
                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            Assert.True(equals > 0, $"'{line}' is not KEY=VALUE");
            if (section == "Service")
            {
                var key = line[..equals];
                if (!settings.TryGetValue(key, out var values))
                {
                    settings[key] = values = [];
                }

                values.Add(line[(equals + 1)..]);
            }
        }

        return settings;
    }

    /// <summary>The unit with its ExecStart pointed at a stand-in for the published executable, which the tools insist exists.</summary>
    private static string CopyWithExecutable(string folder)
    {
        var executable = Path.Combine(folder, "fluxweb");
        File.WriteAllText(executable, "#!/bin/sh\n");
        File.SetUnixFileMode(executable, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.UserWrite);
        var unit = Path.Combine(folder, "fluxweb.service");
        File.WriteAllText(unit, File.ReadAllText(UnitPath()).Replace("/opt/fluxweb/fluxweb", executable, StringComparison.Ordinal));
        return unit;
    }

    private static async Task<(int ExitCode, string Output)> SystemdAnalyzeAsync(params string[] arguments)
    {
        const string Tool = "/usr/bin/systemd-analyze";
        Assert.True(File.Exists(Tool), $"{Tool} is missing: the README's test command (./build.sh test) installs Debian's systemd package.");
        var start = new ProcessStartInfo(Tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, (await stdout) + (await stderr));
    }

    [Fact]
    public async Task Systemd_analyze_verify_accepts_the_unit_without_a_single_warning()
    {
        var folder = Directory.CreateTempSubdirectory("fluxweb-unit").FullName;
        try
        {
            var (code, output) = await SystemdAnalyzeAsync("verify", CopyWithExecutable(folder));

            // Unknown or misspelt keys are only warnings to systemd ("ignoring"); here they fail.
            Assert.True(code == 0 && output.Trim().Length == 0, $"systemd-analyze verify ({code}):\n{output}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Systemd_rates_the_units_exposure_as_ok()
    {
        var folder = Directory.CreateTempSubdirectory("fluxweb-unit").FullName;
        try
        {
            var (code, output) = await SystemdAnalyzeAsync("security", "--offline=true", CopyWithExecutable(folder));

            var level = ExposureLevel().Match(output);
            Assert.True(code == 0 && level.Success, $"systemd-analyze security ({code}):\n{output}");
            var exposure = double.Parse(level.Groups[1].Value, CultureInfo.InvariantCulture);
            Console.WriteLine($"systemd-analyze security: deploy/fluxweb.service exposure {exposure} (0 = locked down, 10 = unprotected)");
            Assert.True(exposure <= 3.0, $"systemd rates the unit's exposure {exposure}:\n{output}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void The_unit_runs_the_published_app_as_its_own_user_and_writes_only_its_state_directory()
    {
        var service = Service();
        string One(string key) => Assert.Single(service.TryGetValue(key, out var values) ? values : []);

        Assert.Equal("/opt/fluxweb/fluxweb serve", One("ExecStart"));
        Assert.Equal("fluxweb", One("User"));
        Assert.Equal("fluxweb", One("StateDirectory"));
        Assert.Equal("/var/lib/fluxweb", One("WorkingDirectory"));
        var environment = service["Environment"].Select(e => e.Split('=', 2)).ToDictionary(e => e[0], e => e[1], StringComparer.Ordinal);
        Assert.Equal("/var/lib/fluxweb/data", environment["FluxWeb__DataDirectory"]);
        Assert.Equal("/var/lib/fluxweb/models", environment["FluxWeb__ModelsDirectory"]);
        Assert.StartsWith("http://127.0.0.1:", environment["Urls"], StringComparison.Ordinal);
        Assert.Equal("systemd", environment["Logging__Console__FormatterName"]);

        foreach (var (key, value) in new[] { ("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"), ("PrivateTmp", "yes"), ("CapabilityBoundingSet", ""), ("RestrictSUIDSGID", "yes"), ("SystemCallFilter", "@system-service") })
        {
            Assert.Equal(value, One(key));
        }

        // The .NET JIT writes and executes the same pages; CUDA needs /dev/nvidia*.
        Assert.False(service.ContainsKey("MemoryDenyWriteExecute"), "MemoryDenyWriteExecute=yes would stop the .NET runtime.");
        Assert.False(service.TryGetValue("PrivateDevices", out var devices) && devices.Contains("yes"), "PrivateDevices=yes would hide the GPU.");
    }

    [GeneratedRegex(@"Overall exposure level for \S+: ([0-9.]+)")]
    private static partial Regex ExposureLevel();
}
