using System.Text.Json;

namespace FluxWeb.Host.Cli;

/// <summary>One-line JSON on stdout for scripts, snake_case like the rest of the machine-readable output.</summary>
internal static class CliJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = false,
    };

    public static void WriteLine(CliOutput output, object value) => output.Out.WriteLine(JsonSerializer.Serialize(value, Options));
}
