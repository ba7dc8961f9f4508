using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace FluxWeb.Testing.PostgreSql;

/// <summary>
/// The PostgreSQL server binaries Debian's <c>postgresql</c> package installs (<c>/usr/lib/postgresql/&lt;version&gt;/bin</c>),
/// and the account they run under: PostgreSQL refuses to run as root, so a root test run starts them as the
/// <c>postgres</c> system user the package creates.
/// </summary>
public sealed partial class PostgreSqlInstallation
{
    public const string DebianRoot = "/usr/lib/postgresql";

    private PostgreSqlInstallation(string binDirectory, int majorVersion, Account? runAs)
    {
        BinDirectory = binDirectory;
        MajorVersion = majorVersion;
        RunAs = runAs;
    }

    public string BinDirectory { get; }

    public int MajorVersion { get; }

    /// <summary>The account the server runs as when the tests run as root; null when they run as anyone else (the server runs as them).</summary>
    public Account? RunAs { get; }

    public sealed record Account(string Name, int Uid, int Gid);

    /// <summary>The newest installed server version, or an exception that says how to install one.</summary>
    public static PostgreSqlInstallation Find()
    {
        var newest = (Directory.Exists(DebianRoot) ? Directory.GetDirectories(DebianRoot) : [])
            .Select(d => (Version: int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : -1, Bin: Path.Combine(d, "bin")))
            .Where(x => x.Version > 0 && File.Exists(Path.Combine(x.Bin, "initdb")) && File.Exists(Path.Combine(x.Bin, "postgres")))
            .OrderByDescending(x => x.Version)
            .FirstOrDefault();
        if (newest.Bin is null)
        {
            throw new InvalidOperationException(
                $"PostgreSQL's server (initdb, postgres) is not installed under {DebianRoot}/<version>/bin: run the README's test command (./build.sh test), which installs Debian's postgresql, or `sudo apt-get install postgresql`.");
        }

        Account? runAs = null;
        if (geteuid() == 0)
        {
            runAs = FindAccount("postgres") ?? throw new InvalidOperationException(
                "The tests run as root and PostgreSQL refuses to run as root, but there is no 'postgres' user to run it as: reinstall Debian's postgresql package (it creates one) or run the tests as another user.");
        }

        return new PostgreSqlInstallation(newest.Bin, newest.Version, runAs);
    }

    /// <summary>Start info for one of the server's programs, as <see cref="RunAs"/> when set; the parent-death signal stops it if this process dies without stopping it.</summary>
    public ProcessStartInfo StartInfo(string program, IEnumerable<string> arguments, string workingDirectory, string? parentDeathSignal = null)
    {
        // The working directory must be one the server's account may enter (not root's home).
        var info = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        if (RunAs is { } account)
        {
            info.ArgumentList.Add($"--reuid={account.Uid}");
            info.ArgumentList.Add($"--regid={account.Gid}");
            info.ArgumentList.Add("--init-groups");
        }

        if (parentDeathSignal is not null)
        {
            info.ArgumentList.Add("--pdeathsig");
            info.ArgumentList.Add(parentDeathSignal);
        }

        info.ArgumentList.Add("--");
        info.ArgumentList.Add(Path.Combine(BinDirectory, program));
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // The server's messages are read by this code: keep them in English whatever the machine's language.
        info.Environment["LC_MESSAGES"] = "C";
        return info;
    }

    /// <summary>Runs one of the programs to its end; throws with its output when it fails.</summary>
    public async Task RunAsync(string program, IEnumerable<string> arguments, string workingDirectory, CancellationToken cancellationToken = default)
    {
        using var process = Process.Start(StartInfo(program, arguments, workingDirectory))!;
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} failed (exit code {process.ExitCode}):\n{await output}\n{await error}");
        }
    }

    /// <summary>Makes <paramref name="path"/> and everything in it belong to <see cref="RunAs"/> (a no-op without one).</summary>
    public async Task GiveAsync(string path)
    {
        if (RunAs is not { } account)
        {
            return;
        }

        using var process = Process.Start(new ProcessStartInfo("chown", ["-R", $"{account.Uid}:{account.Gid}", path]) { RedirectStandardError = true })!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"chown of {path} to {account.Name} failed: {error}");
        }
    }

    private static Account? FindAccount(string name)
    {
        foreach (var line in File.ReadLines("/etc/passwd"))
        {
            var fields = line.Split(':');
            if (fields.Length > 3 && fields[0] == name
                && int.TryParse(fields[2], CultureInfo.InvariantCulture, out var uid)
                && int.TryParse(fields[3], CultureInfo.InvariantCulture, out var gid))
            {
                return new Account(name, uid, gid);
            }
        }

        return null;
    }

    [LibraryImport("libc")]
    private static partial uint geteuid();
}
