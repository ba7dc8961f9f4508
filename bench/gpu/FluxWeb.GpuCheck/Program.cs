using System.Diagnostics;
using FluxWeb.GpuCheck;

// fluxweb-gpucheck: proves FluxWeb's GPU path on a real GPU in one run and prints one table.
//   fluxweb-gpucheck --repo DIR --work DIR [--out DIR] [--minutes 8] [--cpu-smoke]
//   fluxweb-gpucheck --attention-kernels PACKAGE_FOLDER     (child process: prints ONNX Runtime's attention kernel choices)
// See bench/gpu/README.md for how it is staged onto the GPU machine and run.
var options = CheckOptions.Parse(args);
if (options.Error is { } error)
{
    Console.Error.WriteLine($"error: {error}");
    Console.Error.WriteLine(CheckOptions.Usage);
    return 2;
}

if (options.AttentionKernelsOf is { } package)
{
    return AttentionProbe.Child(package);
}

var report = new Report();
var clock = Stopwatch.StartNew();
try
{
    await new Checks(options, report, clock).RunAsync();
}
finally
{
    report.Add("run", "total wall time", Report.Seconds(clock.Elapsed.TotalSeconds), options.CpuSmoke ? "CPU smoke run (tiny models)" : $"limit {options.Minutes} min");
    report.Write(Console.Out, options.Out);
}

return report.Rows.Any(r => r.Section == "device" && r.Value == "failed") ? 1 : 0;

internal sealed record CheckOptions(string Repo, string Work, string? Out, double Minutes, bool CpuSmoke, string? AttentionKernelsOf, string? Error)
{
    public const string Usage = "usage: fluxweb-gpucheck --repo DIR --work DIR [--out DIR] [--minutes 8] [--cpu-smoke] | --attention-kernels PACKAGE_FOLDER";

    public static CheckOptions Parse(string[] args)
    {
        string? repo = null, work = null, output = null, attention = null;
        double minutes = 8;
        var smoke = false;
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            try
            {
                switch (args[i])
                {
                    case "--repo": repo = Next(); break;
                    case "--work": work = Next(); break;
                    case "--out": output = Next(); break;
                    case "--minutes": minutes = double.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
                    case "--cpu-smoke": smoke = true; break;
                    case "--attention-kernels": attention = Next(); break;
                    default: return new CheckOptions("", "", null, 0, false, null, $"unknown option {args[i]}");
                }
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException)
            {
                return new CheckOptions("", "", null, 0, false, null, ex.Message);
            }
        }

        if (attention is not null)
        {
            return new CheckOptions("", "", null, 0, false, attention, null);
        }

        if (repo is null || work is null)
        {
            return new CheckOptions("", "", null, 0, false, null, "--repo and --work are required");
        }

        if (!Directory.Exists(Path.Combine(repo, "tests", "fixtures", "weights-tables")))
        {
            return new CheckOptions("", "", null, 0, false, null, $"{repo} is not a FluxWeb checkout (no tests/fixtures/weights-tables)");
        }

        return new CheckOptions(Path.GetFullPath(repo), Path.GetFullPath(work), output is null ? null : Path.GetFullPath(output), minutes, smoke, null, null);
    }
}
