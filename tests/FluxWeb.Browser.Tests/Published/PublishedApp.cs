using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using FluxWeb.Testing.Safety;

namespace FluxWeb.Browser.Tests.Published;

/// <summary>
/// The published executable started the way the Docker image starts it: its environment is the
/// Dockerfile's <c>ENV</c> (read from the Dockerfile itself) with the volumes as temp folders, it
/// runs in a read-only working directory (the image's <c>WORKDIR /home/fluxweb</c>) that is also
/// its read-only <c>HOME</c>, and when the tests run as root it runs as the image's non-root user
/// (uid 10001). Set-up goes through its own command line, as an operator's would.
/// </summary>
public sealed partial class PublishedApp : IAsyncDisposable
{
    /// <summary>The Dockerfile's <c>useradd --uid</c>.</summary>
    public const int ImageUserId = 10001;

    private const int Sigterm = 15;

    private const int Sigkill = 9;

    private readonly ConcurrentQueue<string> log = new();
    private readonly Dictionary<string, string> environment;
    private Process? server;

    private readonly string name;

    private PublishedApp(string publishFolder, string root, string name)
    {
        this.name = name;
        PublishFolder = publishFolder;
        Root = root;
        environment = DockerfileEnvironment();
        // The volumes and the address are the only values taken from the test instead of the image.
        Assert.Equal("/data", environment["FluxWeb__DataDirectory"]);
        Assert.Equal("/models", environment["FluxWeb__ModelsDirectory"]);
        Assert.True(environment.Remove("Urls"), "The Dockerfile no longer sets Urls; this test replaces it with a free port.");
        environment["FluxWeb__DataDirectory"] = DataDirectory;
        environment["FluxWeb__ModelsDirectory"] = ModelsDirectory;
        // The image installs the classifier here at build time (a RUN step); the test does the same below.
        Assert.Equal("/opt/fluxweb/safety", environment["Provenance__Filters__ClassifierDirectory"]);
        environment["Provenance__Filters__ClassifierDirectory"] = ClassifierDirectory;
        environment["Urls"] = "http://127.0.0.1:0";
        // The image refuses to start without a usable GPU (Cuda); CI has none, so the one device setting the
        // test changes is the fallback the image would otherwise refuse.
        Assert.Equal("Cuda", environment["Inference__Device"]);
        environment["Inference__Device"] = "Auto";
        environment["HOME"] = HomeDirectory;
        // The image is run with --tmpfs /tmp; this is that folder.
        environment["TMPDIR"] = TempDirectory;
        environment["PATH"] = "/usr/local/bin:/usr/bin:/bin";
        // Tiny demo models on a busy 2-core CI machine: one thread each, as the in-process tests do.
        environment["Inference__CpuThreads"] = "1";
    }

    public string PublishFolder { get; }

    public string Root { get; }

    public string DataDirectory => Path.Combine(Root, "data");

    public string ModelsDirectory => Path.Combine(Root, "models");

    /// <summary>The working directory and HOME, read-only like the image's root file system.</summary>
    public string HomeDirectory => Path.Combine(Root, "home");

    public string TempDirectory => Path.Combine(Root, "tmp");

    /// <summary>The image's <c>/opt/fluxweb/safety</c>, filled at build time by <c>fluxweb safety install</c>.</summary>
    public string ClassifierDirectory => Path.Combine(Root, "classifier");

    public string BaseUrl { get; private set; } = "";

    public int? ProcessId => server?.Id;

    public static bool RunningAsRoot => geteuid() == 0;

    /// <summary>Everything the server printed so far (JSON log lines, as in the image).</summary>
    public string Log => string.Join('\n', log);

    /// <param name="name">Names the server's log in the artefacts folder.</param>
    public static async Task<PublishedApp> CreateAsync(string name = "published-app")
    {
        var publishFolder = await PublishedBuild.FolderAsync();
        var root = Directory.CreateTempSubdirectory("fluxweb-published-").FullName;
        File.SetUnixFileMode(root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var app = new PublishedApp(publishFolder, root, name);
        foreach (var volume in new[] { app.DataDirectory, app.ModelsDirectory, app.TempDirectory, app.ClassifierDirectory })
        {
            Directory.CreateDirectory(volume);
            app.GiveToAppUser(volume);
        }

        Directory.CreateDirectory(app.HomeDirectory);
        File.SetUnixFileMode(app.HomeDirectory, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        // The Dockerfile's build-time install, from the tarball npm already holds instead of the registry.
        await app.RunCommandAsync(null, "safety", "install", "--from", NsfwjsPackage.TarballPath);
        return app;
    }

    /// <summary>
    /// Sets an environment variable for every command and process started from now on (as <c>docker run -e</c>
    /// would): the cluster tests point all their processes at one PostgreSQL database this way.
    /// </summary>
    public void SetEnvironment(string key, string value) => environment[key] = value;

    /// <summary>Runs <c>fluxweb ARGS</c> as the image would (<c>docker run … fluxweb users create-admin …</c>) and returns its standard output.</summary>
    public async Task<string> RunCommandAsync(IReadOnlyDictionary<string, string>? extraEnvironment, params string[] arguments)
    {
        using var process = Process.Start(StartInfo(arguments, extraEnvironment))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"fluxweb {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{await stdout}\n{await stderr}");
        return await stdout;
    }

    /// <summary>Starts <c>fluxweb serve [ARGS]</c> and waits (up to a minute) for the address it listens on.</summary>
    public async Task StartAsync(params string[] serveArguments)
    {
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        server = new Process { StartInfo = StartInfo(["serve", .. serveArguments], null), EnableRaisingEvents = true };
        void Collect(object? sender, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }

            log.Enqueue(e.Data);
            if (ListeningOn().Match(e.Data) is { Success: true } match)
            {
                listening.TrySetResult(match.Groups[1].Value);
            }
        }

        server.OutputDataReceived += Collect;
        server.ErrorDataReceived += Collect;
        server.Exited += (_, _) => listening.TrySetException(new InvalidOperationException($"fluxweb serve exited with {server.ExitCode} before listening:\n{Log}"));
        Assert.True(server.Start());
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        BaseUrl = await listening.Task.WaitAsync(TimeSpan.FromMinutes(1));
    }

    /// <summary>SIGKILL of the running <c>fluxweb serve</c> (the box dies: no shutdown code runs); returns once it is gone.</summary>
    public async Task KillAsync()
    {
        Assert.True(server is { HasExited: false }, "fluxweb serve is not running");
        Assert.True(kill(server.Id, Sigkill) == 0, $"kill -9 {server.Id} failed: errno {Marshal.GetLastPInvokeError()}");
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await server.WaitForExitAsync(deadline.Token);
        log.Enqueue($"[test] SIGKILL sent at {DateTimeOffset.UtcNow:O}");
    }

    /// <summary>How <c>fluxweb ARGS</c> is started: the image's user, environment and read-only working directory.</summary>
    internal ProcessStartInfo StartInfo(IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? extraEnvironment)
    {
        var executable = Path.Combine(PublishFolder, "fluxweb");
        var start = new ProcessStartInfo
        {
            WorkingDirectory = HomeDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (RunningAsRoot)
        {
            // As the image's USER: a uid that owns only the volumes.
            start.FileName = "/usr/bin/setpriv";
            foreach (var argument in (string[])[$"--reuid={ImageUserId}", $"--regid={ImageUserId}", "--clear-groups", "--", executable])
            {
                start.ArgumentList.Add(argument);
            }
        }
        else
        {
            start.FileName = executable;
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // A container starts with the image's environment only, not the test runner's.
        start.Environment.Clear();
        foreach (var (key, value) in environment.Concat(extraEnvironment ?? new Dictionary<string, string>()))
        {
            start.Environment[key] = value;
        }

        return start;
    }

    /// <summary>The <c>ENV</c> instructions of the Dockerfile's last stage, the one that runs.</summary>
    internal static Dictionary<string, string> DockerfileEnvironment()
    {
        var text = File.ReadAllText(Path.Combine(PublishedBuild.RepositoryRoot(), "Dockerfile")).Replace("\\\n", " ", StringComparison.Ordinal);
        var lastStage = text[text.LastIndexOf("\nFROM ", StringComparison.Ordinal)..];
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Match instruction in EnvInstruction().Matches(lastStage))
        {
            foreach (var pair in instruction.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                Assert.True(equals > 0, $"Dockerfile ENV entry '{pair}' is not KEY=VALUE.");
                values[pair[..equals]] = pair[(equals + 1)..];
            }
        }

        Assert.NotEmpty(values);
        return values;
    }

    private void GiveToAppUser(string path)
    {
        if (RunningAsRoot)
        {
            Assert.True(chown(path, ImageUserId, ImageUserId) == 0, $"chown {path} failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (server is { HasExited: false })
        {
            // docker stop: SIGTERM, then SIGKILL after a grace period.
            _ = kill(server.Id, Sigterm);
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await server.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                server.Kill(entireProcessTree: true);
            }
        }

        server?.Dispose();
        await File.WriteAllTextAsync(Path.Combine(AppBrowserSession.ArtefactsDirectory, $"{name}.log"), Log);
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left for the OS temp cleaner.
        }
    }

    [GeneratedRegex(@"(?m)^ENV\s+(.+)$")]
    private static partial Regex EnvInstruction();

    [GeneratedRegex(@"Now listening on: (http://[^""\s]+)")]
    private static partial Regex ListeningOn();

    [DllImport("libc")]
    private static extern uint geteuid();

    [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int chown([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int owner, int group);

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
