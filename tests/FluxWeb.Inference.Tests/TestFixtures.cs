using FluxWeb.Inference.SafeTensors;

namespace FluxWeb.Inference.Tests;

/// <summary>Locates the copied reference fixtures (tests/fixtures) from the test binaries.</summary>
internal static class TestFixtures
{
    public static string Root { get; } = FindRoot();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    public static SafeTensorsFile Open(params string[] parts) => SafeTensorsFile.Open(Path(parts));

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, "tests", "fixtures");
            if (Directory.Exists(System.IO.Path.Combine(candidate, "flux2-tiny")))
            {
                return candidate;
            }

            dir = dir.Parent;
        }

        throw new DirectoryNotFoundException("tests/fixtures not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>
/// Official parameter tables (name, shape, dtype) turned into sparse safetensors files: the real
/// layout of an 8-16 GB checkpoint that costs only its header on disk. Graph builders bind them
/// without reading a byte of weight data.
/// </summary>
internal static class WeightTables
{
    public static IReadOnlyList<(string Name, long[] Shape, SafeTensorDType DType)> Read(string tsvName)
    {
        var rows = new List<(string, long[], SafeTensorDType)>();
        foreach (var line in File.ReadLines(TestFixtures.Path("weights-tables", tsvName)).Skip(1))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var cells = line.Split('\t');
            var shape = cells[1].Length == 0 ? [] : cells[1].Split(',').Select(long.Parse).ToArray();
            Assert.True(SafeTensorDTypes.TryParse(cells[2], out var dtype), $"unknown dtype {cells[2]} in {tsvName}");
            rows.Add((cells[0], shape, dtype));
        }

        return rows;
    }

    /// <summary>Writes the table as one sparse .safetensors file in <paramref name="folder"/>.</summary>
    public static string WriteSparse(string tsvName, string folder, string fileName)
    {
        var writer = new SafeTensorsWriter();
        foreach (var (name, shape, dtype) in Read(tsvName))
        {
            writer.Add(name, dtype, shape, data: null);
        }

        Directory.CreateDirectory(folder);
        var path = System.IO.Path.Combine(folder, fileName);
        writer.Write(path, new Dictionary<string, string> { ["format"] = "pt" });
        return path;
    }

    public static long ParameterCount(string tsvName, Func<string, bool>? include = null) =>
        Read(tsvName).Where(r => include?.Invoke(r.Name) ?? true).Sum(r => r.Shape.Aggregate(1L, (a, b) => a * b));
}

/// <summary>A temporary folder for one test.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"fluxweb-inference-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
