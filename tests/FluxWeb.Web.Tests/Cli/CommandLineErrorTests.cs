using System.Diagnostics;
using FluxWeb.Host.Cli;
using FluxWeb.Testing;

namespace FluxWeb.Web.Tests.Cli;

/// <summary>
/// A mistyped command prints one <c>error:</c> line with the nearest valid command and exits non-zero;
/// only <c>fluxweb</c> alone or <c>fluxweb serve</c> (with host configuration) starts the web app.
/// </summary>
public sealed class CommandLineErrorTests
{
    private static async Task<(int ExitCode, string Out, string Error)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await FluxWebCli.RunAsync(args, new CliOutput(stdout, stderr));
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("'modles' is not a fluxweb command. Did you mean 'fluxweb models'?", "modles", "list")]
    // The list comes from the command tree (commands added later appear in it); only its start is fixed here.
    [InlineData("'frobnicate' is not a fluxweb command. Commands: serve, worker, users, apikeys, models,", "frobnicate", "install", "--from", "x.tgz")]
    [InlineData("'models' is a command of its own, not an argument of 'fluxweb serve': run 'fluxweb models …' instead.", "serve", "models", "create-demo")]
    [InlineData("'creat-demo' is not a fluxweb models command. Did you mean 'fluxweb models create-demo'?", "models", "creat-demo")]
    [InlineData("unknown option '--jsno' for 'fluxweb users list'. Did you mean '--json'?", "users", "list", "--jsno")]
    [InlineData("unknown option '--urlz' for 'fluxweb'. Did you mean '--urls'?", "--urlz", "http://127.0.0.1:0")]
    [InlineData("unknown option '--port' for 'fluxweb serve'.", "serve", "--port", "5001")]
    [InlineData("Option '--email' is required. See 'fluxweb users create --help'.", "users", "create")]
    [InlineData("unexpected argument 'b.png' for 'fluxweb verify'.", "verify", "a.png", "b.png")]
    public async Task Unknown_commands_and_arguments_print_one_error_line_with_the_nearest_command(string expected, params string[] args)
    {
        using var folder = new TempFolder();

        var (code, stdout, stderr) = await RunAsync([.. args, "--data", folder.Combine("data")]);

        Assert.NotEqual(0, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.False(Directory.Exists(folder.Combine("data")), "Nothing may run: the data folder stays untouched.");
    }

    [Theory]
    [InlineData]
    [InlineData("serve")]
    [InlineData("serve", "--urls", "http://127.0.0.1:0", "--environment", "Production")]
    [InlineData("--environment=Production", "--Queue:MaxConcurrentJobs=2", "--Logging:LogLevel:Default", "Debug")]
    [InlineData("serve", "Queue:PollInterval=00:00:02", "--contentRoot=/srv/fluxweb")]
    public void Host_configuration_still_passes_through_to_the_web_app(params string[] args)
    {
        var parse = FluxWebCli.BuildRootCommand(new CliOutput(TextWriter.Null, TextWriter.Null)).Parse(args);

        Assert.Null(CommandLineErrors.Describe(parse));
    }

    /// <summary>
    /// The real executable: the words the issue saw start a second server (`./build.sh run models
    /// create-demo` runs `fluxweb serve models create-demo`) must end the process with the error
    /// instead, before the web host or the database is touched.
    /// </summary>
    [Theory]
    [InlineData("safety-check", "install", "--from", "x.tgz")]
    [InlineData("serve", "models", "create-demo")]
    public async Task A_mistyped_command_exits_without_starting_a_server(params string[] args)
    {
        using var folder = new TempFolder();
        var data = folder.Combine("data");
        var start = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "fluxweb"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = folder.Path,
        };
        foreach (var arg in (string[])[.. args, "--data", data, "--models", folder.Combine("models"), "--urls", "http://127.0.0.1:0"])
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"'fluxweb {string.Join(' ', args)}' was still running after 60 s (a server started?). Output: {await stdout} {await stderr}");
        }

        Assert.NotEqual(0, process.ExitCode);
        var line = Assert.Single((await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Now listening", await stdout, StringComparison.Ordinal);
        Assert.False(Directory.Exists(data), "The server's data folder (database, keys) must not be created.");
    }
}
