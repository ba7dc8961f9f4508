using System.Globalization;
using System.Text.Json;

namespace FluxWeb.GpuCheck;

/// <summary>One line of the table: what was measured, its value, and a note (how, or why it could not be).</summary>
public sealed record Row(string Section, string Measure, string Value, string Note = "");

/// <summary>The table the check prints (markdown, for bench/gpu/README.md) and writes as JSON.</summary>
public sealed class Report
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private readonly List<Row> rows = [];
    private readonly Lock gate = new();

    public IReadOnlyList<Row> Rows
    {
        get
        {
            lock (gate)
            {
                return rows.ToList();
            }
        }
    }

    public void Add(string section, string measure, string value, string note = "")
    {
        lock (gate)
        {
            rows.Add(new Row(section, measure, value, note));
        }

        // Progress goes to stderr as it happens, so a run cut short still shows how far it got.
        Console.Error.WriteLine($"[{section}] {measure}: {value}{(note.Length > 0 ? $"  ({note})" : "")}");
    }

    public void Failed(string section, string measure, Exception ex) =>
        Add(section, measure, "failed", $"{ex.GetType().Name}: {ex.Message.Split('\n')[0].Trim()}");

    public void Write(TextWriter output, string? folder)
    {
        output.WriteLine("| section | measure | value | note |");
        output.WriteLine("|---|---|---|---|");
        foreach (var row in Rows)
        {
            output.WriteLine($"| {Cell(row.Section)} | {Cell(row.Measure)} | {Cell(row.Value)} | {Cell(row.Note)} |");
        }

        if (folder is not null)
        {
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "gpucheck.json"), JsonSerializer.Serialize(Rows, Indented));
            using var markdown = new StreamWriter(Path.Combine(folder, "gpucheck.md"));
            Write(markdown, null);
        }
    }

    public static string Ms(double milliseconds) => milliseconds.ToString("0.0", CultureInfo.InvariantCulture) + " ms";

    public static string Seconds(double seconds) => seconds.ToString("0.00", CultureInfo.InvariantCulture) + " s";

    public static string GiB(long bytes) => (bytes / (double)(1L << 30)).ToString("0.00", CultureInfo.InvariantCulture) + " GiB";

    public static string Number(double value, string format = "0.0") => value.ToString(format, CultureInfo.InvariantCulture);

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
