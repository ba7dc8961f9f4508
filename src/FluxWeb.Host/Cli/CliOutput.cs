namespace FluxWeb.Host.Cli;

/// <summary>Where commands write: stdout for results (one JSON line where a script reads it), stderr for one-line errors.</summary>
internal sealed class CliOutput(TextWriter output, TextWriter error)
{
    public static CliOutput Console { get; } = new(System.Console.Out, System.Console.Error);

    public TextWriter Out { get; } = output;

    public TextWriter Error { get; } = error;

    public int Fail(string message)
    {
        Error.WriteLine($"error: {message}");
        return 1;
    }
}
