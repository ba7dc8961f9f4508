using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Npgsql;

namespace FluxWeb.Testing.PostgreSql;

/// <summary>
/// A PostgreSQL server of this test process's own: <c>initdb</c> into a temporary folder, <c>postgres</c> on a
/// free loopback port with a random password, no system service. <see cref="SharedAsync"/> starts one the first
/// time a test asks and stops it (and deletes its folder) when the process exits; if the process dies first, the
/// kernel stops the server (parent-death signal) and the next run deletes the folder. Tests get fresh databases,
/// copied from templates that are built once per server.
/// </summary>
public sealed partial class PostgreSqlServer
{
    /// <summary>The superuser the tests connect as.</summary>
    public const string SuperUser = "fluxweb_test";

    private const string FolderPrefix = "fluxweb-pg-";
    private const string OwnerFile = "owner.pid";
    private const int Attempts = 5;
    private const int SigInt = 2;
    private const int SigQuit = 3;

    private static readonly Lazy<Task<PostgreSqlServer>> Shared = new(StartSharedAsync);
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly ConcurrentDictionary<string, Lazy<Task<string>>> templates = new(StringComparer.Ordinal);
    private readonly Process postmaster;
    private readonly ServerLog log;
    private readonly string password;
    private int stopped;

    private PostgreSqlServer(PostgreSqlInstallation installation, string folder, int port, string password, Process postmaster, ServerLog log)
    {
        Installation = installation;
        Folder = folder;
        Port = port;
        this.password = password;
        this.postmaster = postmaster;
        this.log = log;
    }

    public PostgreSqlInstallation Installation { get; }

    /// <summary>The temporary folder holding the data directory; deleted when the server stops.</summary>
    public string Folder { get; }

    public int Port { get; }

    /// <summary>The server of this test process, started on first use.</summary>
    public static Task<PostgreSqlServer> SharedAsync() => Shared.Value;

    /// <summary>A connection string for <paramref name="database"/> as the superuser.</summary>
    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = SuperUser,
        Password = password,
        Database = database,
        IncludeErrorDetail = true,
    }.ConnectionString;

    /// <summary>An empty database with a new name; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(CancellationToken cancellationToken = default) =>
        await CreateDatabaseAsync(template: null, cancellationToken);

    /// <summary>
    /// A new database copied from the template <paramref name="templateName"/>, which <paramref name="initialize"/>
    /// builds (given its connection string) the first time any test asks for it. Copying a migrated template
    /// takes milliseconds; migrating every test's database would take seconds.
    /// </summary>
    public async Task<string> CreateDatabaseAsync(string templateName, Func<string, CancellationToken, Task> initialize, CancellationToken cancellationToken = default)
    {
        var template = await templates.GetOrAdd(templateName, name => new Lazy<Task<string>>(() => BuildTemplateAsync(name, initialize))).Value;
        return await CreateDatabaseAsync(template, cancellationToken);
    }

    /// <summary>Drops the database <paramref name="connectionString"/> names, closing whatever is still connected to it.</summary>
    public async Task DropDatabaseAsync(string connectionString, CancellationToken cancellationToken = default)
    {
        var database = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        using (var connection = new NpgsqlConnection(connectionString))
        {
            NpgsqlConnection.ClearPool(connection);
        }

        await ExecuteAsync($"DROP DATABASE IF EXISTS {Quote(database)} WITH (FORCE)", cancellationToken);
    }

    /// <summary>Runs <paramref name="sql"/> in the <c>postgres</c> maintenance database.</summary>
    public async Task ExecuteAsync(string sql, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The server's recent log lines, for failure messages.</summary>
    public string RecentLog() => log.Text();

    /// <summary>Fast shutdown (open sessions are ended), then the folder is deleted. Safe to call more than once.</summary>
    public void Stop()
    {
        if (Interlocked.Exchange(ref stopped, 1) == 1)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        try
        {
            if (!postmaster.HasExited)
            {
                _ = kill(postmaster.Id, SigInt);
                if (!postmaster.WaitForExit(TimeSpan.FromSeconds(15)))
                {
                    postmaster.Kill();
                    postmaster.WaitForExit(TimeSpan.FromSeconds(5));
                }
            }
        }
        finally
        {
            postmaster.Dispose();
            TryDelete(Folder);
        }
    }

    /// <summary>Starts a server of its own; the caller stops it. Most tests want <see cref="SharedAsync"/>.</summary>
    public static async Task<PostgreSqlServer> StartAsync(CancellationToken cancellationToken = default)
    {
        var installation = PostgreSqlInstallation.Find();
        // Another user's server must be able to reach its folder: TMPDIR may be inside root's home.
        var temp = installation.RunAs is null ? Path.GetTempPath() : "/tmp";
        RemoveStaleFolders(temp);

        var folder = Path.Combine(temp, $"{FolderPrefix}{Environment.ProcessId}-{RandomNumberGenerator.GetHexString(8, lowercase: true)}");
        Directory.CreateDirectory(folder);
        try
        {
            await File.WriteAllTextAsync(Path.Combine(folder, OwnerFile), Environment.ProcessId.ToString(CultureInfo.InvariantCulture), cancellationToken);
            var password = RandomNumberGenerator.GetHexString(32, lowercase: true);
            var passwordFile = Path.Combine(folder, "password");
            await File.WriteAllTextAsync(passwordFile, password + "\n", cancellationToken);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            await installation.GiveAsync(folder);

            var data = Path.Combine(folder, "data");
            await installation.RunAsync("initdb", [
                "--pgdata", data, "--username", SuperUser, "--pwfile", passwordFile, "--auth", "scram-sha-256",
                "--encoding", "UTF8", "--locale", "C.UTF-8", "--no-sync", "--no-instructions",
            ], folder, cancellationToken);
            File.Delete(passwordFile);

            for (var attempt = 1; ; attempt++)
            {
                var port = FreeLoopbackPort();
                var log = new ServerLog();
                var postmaster = await ParentThread.StartAsync(installation.StartInfo("postgres", ServerArguments(data, port), folder, parentDeathSignal: "SIGQUIT"));
                log.Attach(postmaster);
                var server = new PostgreSqlServer(installation, folder, port, password, postmaster, log);
                try
                {
                    await server.WaitUntilReadyAsync(cancellationToken);
                    return server;
                }
                catch (PortTakenException) when (attempt < Attempts)
                {
                    // Another test run took the port between our probe and the server's bind: try another.
                    postmaster.Dispose();
                }
            }
        }
        catch
        {
            TryDelete(folder);
            throw;
        }
    }

    /// <summary>
    /// Test settings, never a production configuration: no durability (a crashed test server is thrown away)
    /// and no Unix socket (only the loopback port, so nothing outside this run finds it by default path).
    /// </summary>
    private static IEnumerable<string> ServerArguments(string data, int port) =>
    [
        "-D", data, "-p", port.ToString(CultureInfo.InvariantCulture),
        "-c", "listen_addresses=127.0.0.1",
        "-c", "unix_socket_directories=",
        "-c", "fsync=off",
        "-c", "synchronous_commit=off",
        "-c", "full_page_writes=off",
        "-c", "max_connections=300",
        "-c", "shared_buffers=64MB",
        // Parallel query workers would use /dev/shm, which containers keep small; these databases are tiny anyway.
        "-c", "max_parallel_workers_per_gather=0",
        "-c", "log_min_messages=warning",
    ];

    private async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            if (postmaster.HasExited)
            {
                // Let the log reader take the last lines.
                postmaster.WaitForExit();
                var text = log.Text();
                if (text.Contains("could not bind", StringComparison.Ordinal) || text.Contains("Address already in use", StringComparison.Ordinal))
                {
                    throw new PortTakenException();
                }

                throw new InvalidOperationException($"The test PostgreSQL server (port {Port}) stopped while starting (exit code {postmaster.ExitCode}):\n{text}");
            }

            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false;Timeout=2");
                await connection.OpenAsync(cancellationToken);
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or SocketException or TimeoutException)
            {
                if (DateTime.UtcNow > deadline)
                {
                    Stop();
                    throw new TimeoutException($"The test PostgreSQL server did not accept connections within {StartTimeout.TotalSeconds:0} s:\n{log.Text()}", ex);
                }

                await Task.Delay(50, cancellationToken);
            }
        }
    }

    private async Task<string> CreateDatabaseAsync(string? template, CancellationToken cancellationToken)
    {
        var name = "t_" + Guid.NewGuid().ToString("N");
        await ExecuteAsync($"CREATE DATABASE {Quote(name)}" + (template is null ? "" : $" TEMPLATE {Quote(template)}"), cancellationToken);
        return ConnectionString(name);
    }

    private async Task<string> BuildTemplateAsync(string templateName, Func<string, CancellationToken, Task> initialize)
    {
        var name = "template_" + Regex.Replace(templateName.ToLowerInvariant(), "[^a-z0-9_]", "_");
        await ExecuteAsync($"CREATE DATABASE {Quote(name)}");
        var connectionString = ConnectionString(name);
        await initialize(connectionString, CancellationToken.None);

        // CREATE DATABASE … TEMPLATE refuses while anyone is connected to the template, pooled connections included.
        using (var connection = new NpgsqlConnection(connectionString))
        {
            NpgsqlConnection.ClearPool(connection);
        }

        await ExecuteAsync($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()");
        return name;
    }

    private static async Task<PostgreSqlServer> StartSharedAsync()
    {
        var server = await StartAsync();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Stop();
        return server;
    }

    private static string Quote(string identifier) => '"' + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + '"';

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Folders of test runs that ended without stopping their server (killed): stop what is left of the server, delete the folder.</summary>
    private static void RemoveStaleFolders(string temp)
    {
        foreach (var folder in Directory.EnumerateDirectories(temp, FolderPrefix + "*"))
        {
            try
            {
                if (!int.TryParse(File.ReadAllText(Path.Combine(folder, OwnerFile)), CultureInfo.InvariantCulture, out var owner) || IsRunning(owner))
                {
                    continue;
                }

                var pidFile = Path.Combine(folder, "data", "postmaster.pid");
                if (File.Exists(pidFile)
                    && int.TryParse(File.ReadLines(pidFile).First(), CultureInfo.InvariantCulture, out var server)
                    && IsRunning(server)
                    && File.ReadAllText($"/proc/{server}/cmdline").Contains(folder, StringComparison.Ordinal))
                {
                    _ = kill(server, SigQuit);
                    Thread.Sleep(500);
                }

                TryDelete(folder);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Another run may be cleaning the same folder; leave it.
            }
        }
    }

    private static bool IsRunning(int pid) => Directory.Exists($"/proc/{pid}");

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left for the next run's clean-up.
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    private sealed class PortTakenException : Exception;

    /// <summary>The server's last lines of output (it writes its log to stderr), read as they come so the pipe never fills.</summary>
    private sealed class ServerLog
    {
        private const int Keep = 200;
        private readonly ConcurrentQueue<string> lines = new();

        public void Attach(Process process)
        {
            process.OutputDataReceived += (_, e) => Add(e.Data);
            process.ErrorDataReceived += (_, e) => Add(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public string Text() => string.Join('\n', lines);

        private void Add(string? line)
        {
            if (line is null)
            {
                return;
            }

            lines.Enqueue(line);
            while (lines.Count > Keep && lines.TryDequeue(out _))
            {
            }
        }
    }

    /// <summary>
    /// Starts processes from one thread that lives as long as the test process. Linux delivers the parent-death
    /// signal when the thread that started a child ends, not only the process; a thread-pool thread may retire
    /// while the server is still wanted.
    /// </summary>
    private static class ParentThread
    {
        private static readonly BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process> Started)> Requests = [];

        static ParentThread()
        {
            new Thread(() =>
            {
                foreach (var (info, started) in Requests.GetConsumingEnumerable())
                {
                    try
                    {
                        started.SetResult(Process.Start(info)!);
                    }
                    catch (Exception ex)
                    {
                        started.SetException(ex);
                    }
                }
            })
            { IsBackground = true, Name = "PostgreSQL test server parent" }.Start();
        }

        public static Task<Process> StartAsync(ProcessStartInfo info)
        {
            var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
            Requests.Add((info, started));
            return started.Task;
        }
    }
}
