using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace FluxWeb.Browser.Tests.Published;

/// <summary>
/// The artefact users deploy: <c>dotnet publish</c> of the host, self-contained for linux-x64,
/// exactly as the Dockerfile runs it. Published once per state of the sources into
/// <c>artifacts/published-app/&lt;hash&gt;/</c> (the hash covers every file that goes into the
/// app). The libraries are RID-agnostic, so the publish reuses their ordinary build (already done
/// for the tests) and compiles only the host for linux-x64, into <c>linux-x64/</c> folders the tests
/// never run from. The folder is made read-only, as <c>/app</c> is in the image.
/// </summary>
public static class PublishedBuild
{
    private static readonly Lazy<Task<string>> Folder = new(PublishAsync);

    /// <summary>What the hash covers, relative to the repository root (bin/ and obj/ left out).</summary>
    private static readonly string[] Inputs = ["src", "migrations", "wwwroot", "appsettings.json", "Directory.Build.props", "Directory.Packages.props", "global.json"];

    public static Task<string> FolderAsync() => Folder.Value;

    /// <summary>
    /// Starts the publish (or the check that it is already there) without waiting for it; a failure is reported
    /// by <see cref="FolderAsync"/> to the tests that need the published app.
    /// </summary>
    public static void StartInBackground() =>
        _ = Folder.Value.ContinueWith(publish => _ = publish.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);

    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "FluxWeb.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("FluxWeb.sln not found above the test folder.");
    }

    private static async Task<string> PublishAsync()
    {
        var root = RepositoryRoot();
        var cache = Path.Combine(root, "artifacts", "published-app");
        Directory.CreateDirectory(cache);
        var folder = Path.Combine(cache, SourceHash(root));
        var complete = folder + ".complete";

        // Another test process on this checkout may be publishing the same sources right now.
        await using var gate = await LockAsync(Path.Combine(cache, ".lock"), TimeSpan.FromMinutes(15));
        if (File.Exists(complete) && Directory.Exists(folder))
        {
            Console.WriteLine($"published app: reusing {folder}");
            return folder;
        }

        foreach (var stale in Directory.EnumerateDirectories(cache))
        {
            Delete(stale);
        }

        foreach (var marker in Directory.EnumerateFiles(cache, "*.complete"))
        {
            File.Delete(marker);
        }

        var partial = folder + ".partial";
        var clock = Stopwatch.StartNew();
        var (exitCode, output) = await RunAsync(root, "dotnet",
            "publish", "src/FluxWeb.Host/FluxWeb.Host.csproj", "-c", "Release", "-r", "linux-x64", "--self-contained", "true",
            "-o", partial, "-nologo");
        Assert.True(exitCode == 0, $"dotnet publish failed ({exitCode}):\n{output}");
        Directory.Move(partial, folder);
        MakeReadOnly(folder);
        await File.WriteAllTextAsync(complete, DateTimeOffset.UtcNow.ToString("O"));
        Console.WriteLine($"published app: dotnet publish into {folder} took {clock.Elapsed.TotalSeconds:F0} s");
        return folder;
    }

    internal static string SourceHash(string root)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var files = Inputs
            .SelectMany(input =>
            {
                var path = Path.Combine(root, input);
                return File.Exists(path) ? [path] : Directory.Exists(path) ? Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories) : [];
            })
            .Select(path => Path.GetRelativePath(root, path).Replace('\\', '/'))
            .Where(path => !path.Split('/').Any(part => part is "bin" or "obj"))
            .Distinct(StringComparer.Ordinal)
            .Order(StringComparer.Ordinal);
        foreach (var relative in files)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(relative + "\n"));
            hash.AppendData(File.ReadAllBytes(Path.Combine(root, relative)));
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    private static void MakeReadOnly(string folder)
    {
        const UnixFileMode Read = UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        const UnixFileMode Execute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            var executable = (File.GetUnixFileMode(file) & UnixFileMode.UserExecute) != 0;
            File.SetUnixFileMode(file, executable ? Read | Execute : Read);
        }

        foreach (var directory in Directory.EnumerateDirectories(folder, "*", SearchOption.AllDirectories).Append(folder))
        {
            File.SetUnixFileMode(directory, Read | Execute);
        }
    }

    private static void Delete(string folder)
    {
        foreach (var directory in Directory.EnumerateDirectories(folder, "*", SearchOption.AllDirectories).Append(folder))
        {
            File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        Directory.Delete(folder, recursive: true);
    }

    private static async Task<FileStream> LockAsync(string path, TimeSpan timeout)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (waited.Elapsed < timeout)
            {
                await Task.Delay(500);
            }
        }
    }

    private static void StopIfRunning(Process process)
    {
        try
        {
            // Not the whole tree: the C# compiler server it may have started serves other builds on this machine too.
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // It ended meanwhile.
        }
    }

    internal static async Task<(int ExitCode, string Output)> RunAsync(string workingDirectory, string fileName, params string[] arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        // A run that ends first (a filtered run that needed no published app, a crash) takes its publish with it,
        // instead of leaving it to finish unattended; an unfinished publish is redone by the next run.
        EventHandler stop = (_, _) => StopIfRunning(process);
        AppDomain.CurrentDomain.ProcessExit += stop;
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            return (process.ExitCode, await stdout + await stderr);
        }
        finally
        {
            AppDomain.CurrentDomain.ProcessExit -= stop;
        }
    }
}
