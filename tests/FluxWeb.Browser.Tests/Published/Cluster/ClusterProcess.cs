using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using FluxWeb.Testing;

namespace FluxWeb.Browser.Tests.Published.Cluster;

/// <summary>
/// One <c>fluxweb</c> process of a test cluster (a <c>fluxweb worker</c>), started like the image starts it, with
/// the signals an operator or a crash would send it: SIGKILL (the box dies), SIGSTOP and SIGCONT (a hung process
/// that comes back), SIGTERM (docker stop). Every line it prints goes to <c>artefacts/&lt;name&gt;.log</c> as it
/// arrives, so a test that fails (or a run that is killed) still leaves the process's log for diagnosis.
/// </summary>
public sealed class ClusterProcess : IAsyncDisposable
{
    private const int Sigkill = 9;
    private const int Sigterm = 15;
    private const int Sigcont = 18;
    private const int Sigstop = 19;

    private readonly ConcurrentQueue<string> lines = new();
    private readonly StreamWriter logFile;
    private readonly Process process;

    private ClusterProcess(string name, ProcessStartInfo start)
    {
        Name = name;
        Directory.CreateDirectory(AppBrowserSession.ArtefactsDirectory);
        logFile = new StreamWriter(Path.Combine(AppBrowserSession.ArtefactsDirectory, $"{name}.log"), append: false) { AutoFlush = true };
        process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += Collect;
        process.ErrorDataReceived += Collect;
    }

    public string Name { get; }

    public int Id => process.Id;

    public bool HasExited => process.HasExited;

    /// <summary>Everything the process printed so far (JSON log lines, as in the image).</summary>
    public string Log => string.Join('\n', lines);

    public IEnumerable<string> Lines => lines;

    /// <summary>Starts the process and waits (up to <paramref name="ready"/>'s deadline) until a line satisfies <paramref name="ready"/>.</summary>
    public static async Task<ClusterProcess> StartAsync(string name, ProcessStartInfo start, Func<string, bool> ready, TimeSpan timeout)
    {
        var started = new ClusterProcess(name, start);
        Assert.True(started.process.Start(), $"{name} did not start");
        started.process.BeginOutputReadLine();
        started.process.BeginErrorReadLine();
        try
        {
            await Eventually.Until(
                () => started.lines.Any(ready) || started.process.HasExited,
                () => $"{name} did not say it was ready:\n{started.Log}",
                timeout);
            Assert.False(started.process.HasExited, $"{name} exited with {(started.process.HasExited ? started.process.ExitCode : 0)} while starting:\n{started.Log}");
        }
        catch
        {
            await started.DisposeAsync();
            throw;
        }

        return started;
    }

    /// <summary>SIGKILL, as a power cut or the OOM killer: no shutdown code runs. Returns once the process is gone.</summary>
    public async Task KillAsync()
    {
        Signal(Sigkill);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await process.WaitForExitAsync(deadline.Token);
        Record($"[test] SIGKILL sent at {DateTimeOffset.UtcNow:O}");
    }

    /// <summary>SIGSTOP: the process hangs (every thread, its heartbeats included) until <see cref="Continue"/>.</summary>
    public void Stop()
    {
        Signal(Sigstop);
        Record($"[test] SIGSTOP sent at {DateTimeOffset.UtcNow:O}");
    }

    public void Continue()
    {
        Signal(Sigcont);
        Record($"[test] SIGCONT sent at {DateTimeOffset.UtcNow:O}");
    }

    private void Signal(int signal)
    {
        if (process.HasExited)
        {
            Assert.Fail($"{Name} had already exited ({process.ExitCode}):\n{Log}");
        }

        Assert.True(kill(process.Id, signal) == 0, $"kill -{signal} {process.Id} failed: errno {Marshal.GetLastPInvokeError()}");
    }

    private void Collect(object? sender, DataReceivedEventArgs e)
    {
        if (e.Data is not null)
        {
            Record(e.Data);
        }
    }

    private void Record(string line)
    {
        lines.Enqueue(line);
        lock (logFile)
        {
            logFile.WriteLine(line);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!process.HasExited)
            {
                // A stopped process cannot act on SIGTERM until it runs again.
                _ = kill(process.Id, Sigcont);
                _ = kill(process.Id, Sigterm);
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                try
                {
                    await process.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                    process.Kill(entireProcessTree: true);
                }
            }
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }

        process.Dispose();
        lock (logFile)
        {
            logFile.Dispose();
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
