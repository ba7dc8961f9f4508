using System.Diagnostics;
using System.Text.Json;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.Bench;

/// <summary>
/// bench/gpu without a GPU: the staging scripts' logic (parts that fit a device call beside the
/// working tree, checksums, reassembly), the PyTorch baseline's fixture check without torch, and
/// the check itself as a CPU smoke run. The real stage (a 350 MB publish through xz -9e, minutes
/// on two cores) is behind the trait Category=GpuStage: ./build.sh test --filter Category=GpuStage.
/// </summary>
public sealed class GpuStageTests(ITestOutputHelper output)
{
    private const long CallLimit = 64L << 20;

    private static string Repo { get; } = FindRepo();

    /// <summary>
    /// Both codecs, and the device as it may be: no xz or zstd command (Python's lzma undoes xz) and a
    /// copy of the working tree that lost the scripts' executable bit.
    /// </summary>
    [Theory]
    [InlineData("xz", false)]
    [InlineData("zstd", false)]
    [InlineData("xz", true)]
    public void Stage_and_unstage_round_trip_a_folder_in_verified_parts(string codec, bool bareDevice)
    {
        using var temp = new TempDirectory();
        var source = MakePayload(temp.Combine("payload"), 3_000_000);

        var stage = Run("bash", [Path.Combine(Repo, "bench/gpu/stage.sh"), "--from", source, "--out", temp.Combine("staged"), "--part-mib", "1", "--codec", codec]);
        var parts = Directory.GetFiles(temp.Combine("staged"), "*.part-*").Order(StringComparer.Ordinal).ToArray();
        var device = new Dictionary<string, string> { ["FLUXWEB_GPU_DIR"] = temp.Combine("device") };
        var unstage = Path.Combine(Repo, "bench/gpu/unstage.sh");
        if (bareDevice)
        {
            unstage = temp.Combine("tree", "unstage.sh");
            Directory.CreateDirectory(temp.Combine("tree"));
            File.Copy(Path.Combine(Repo, "bench/gpu/unstage.sh"), unstage);
            Run("chmod", ["0644", unstage]);
            device["PATH"] = BareDevicePath(temp.Combine("bin"));
        }

        var added = parts.Select(p => Run("bash", [unstage, "add", temp.Combine("staged", "MANIFEST"), p], device)).ToList();
        var extracted = Run("bash", [unstage, "extract", temp.Combine("unpacked")], device);

        output.WriteLine(stage);
        output.WriteLine(extracted);
        Assert.Contains($"({codec} -", stage, StringComparison.Ordinal);
        Assert.Contains($"in {parts.Length} parts of at most 1 MiB", stage, StringComparison.Ordinal);
        Assert.Contains($"a device run needs {parts.Length} calls", stage, StringComparison.Ordinal);
        Assert.True(parts.Length >= 3);
        Assert.All(parts, p => Assert.True(new FileInfo(p).Length <= 1 << 20));
        Assert.Contains($"{parts.Length} of {parts.Length} parts", added[^1], StringComparison.Ordinal);
        Assert.Contains("sha256 ok) into", extracted, StringComparison.Ordinal);
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(temp.Combine("unpacked"), Path.GetRelativePath(source, file))));
        }
    }

    [Fact]
    public void A_damaged_or_missing_part_is_refused_and_nothing_is_unpacked()
    {
        using var temp = new TempDirectory();
        var source = MakePayload(temp.Combine("payload"), 2_500_000);
        Run("bash", [Path.Combine(Repo, "bench/gpu/stage.sh"), "--from", source, "--out", temp.Combine("staged"), "--part-mib", "1", "--codec", "zstd"]);
        var parts = Directory.GetFiles(temp.Combine("staged"), "*.part-*").Order(StringComparer.Ordinal).ToArray();
        var device = new Dictionary<string, string> { ["FLUXWEB_GPU_DIR"] = temp.Combine("device") };
        var damaged = temp.Combine(Path.GetFileName(parts[1]));
        var bytes = File.ReadAllBytes(parts[1]);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(damaged, bytes);

        Run("bash", [Path.Combine(Repo, "bench/gpu/unstage.sh"), "add", temp.Combine("staged", "MANIFEST"), parts[0]], device);
        var refused = Run("bash", [Path.Combine(Repo, "bench/gpu/unstage.sh"), "add", temp.Combine("staged", "MANIFEST"), damaged], device, expectFailure: true);
        var incomplete = Run("bash", [Path.Combine(Repo, "bench/gpu/unstage.sh"), "extract", temp.Combine("unpacked")], device, expectFailure: true);

        Assert.Contains($"{Path.GetFileName(parts[1])} is damaged: sha256", refused, StringComparison.Ordinal);
        Assert.Contains($"{Path.GetFileName(parts[1])} is missing", incomplete, StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp.Combine("unpacked")));
    }

    [Fact]
    public void Parts_are_sized_to_leave_room_for_the_working_tree_in_a_64_MiB_call()
    {
        using var temp = new TempDirectory();
        var source = MakePayload(temp.Combine("payload"), 200_000);

        var stage = Run("bash", [Path.Combine(Repo, "bench/gpu/stage.sh"), "--from", source, "--out", temp.Combine("staged")]);

        var tree = TreeBytes();
        var partMib = int.Parse(System.Text.RegularExpressions.Regex.Match(stage, @"parts of at most (\d+) MiB").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        output.WriteLine($"working tree {tree / 1048576.0:F1} MiB, parts of {partMib} MiB: {(tree + ((long)partMib << 20) + 4096) / 1048576.0:F1} MiB a call");
        Assert.True(tree + ((long)partMib << 20) + 4096 <= CallLimit, "a part and the working tree must fit one call");
        Assert.True(partMib >= 16, "parts should use most of what a call allows");
    }

    [Fact]
    public void The_torch_baseline_checks_its_fixtures_and_plans_without_torch()
    {
        var output_ = Run("python3", [Path.Combine(Repo, "bench/gpu/torch-baseline.py"), "--dry-run", "--fixtures", Path.Combine(Repo, "tests/fixtures/flux2-tiny"), "--sizes", "512,1024,2048"]);

        Assert.Contains("| fixture weights | 41 tensors | names and shapes match the forward pass |", output_, StringComparison.Ordinal);
        Assert.Contains("| fixture transformer_fwd_ref | 80 image + 12 text tokens |", output_, StringComparison.Ordinal);
        Assert.Contains("| 4B weights, zero then random | 3,875,544,576 parameters |", output_, StringComparison.Ordinal);
        Assert.Contains("| would time 4B 1024² | 4608 tokens | 34.8 linear TFLOP a step |", output_, StringComparison.Ordinal);
    }

    [Fact]
    public void The_check_runs_end_to_end_on_the_cpu_with_tiny_models()
    {
        using var temp = new TempDirectory();
        var check = Path.Combine(AppContext.BaseDirectory, "fluxweb-gpucheck.dll");

        var table = Run("dotnet", [check, "--repo", Repo, "--work", temp.Combine("work"), "--out", temp.Combine("out"), "--cpu-smoke"], timeout: TimeSpan.FromMinutes(3));

        output.WriteLine(table);
        var rows = JsonSerializer.Deserialize<JsonElement>(File.ReadAllText(temp.Combine("out", "gpucheck.json"))).EnumerateArray().ToList();
        Assert.Equal(["attention", "build", "components", "device", "end to end", "load", "oracle", "run", "transformer"], rows.Select(r => r.GetProperty("Section").GetString()!).Distinct().Order(StringComparer.Ordinal));
        Assert.DoesNotContain(rows, r => r.GetProperty("Value").GetString() == "failed");
        Assert.Contains(rows, r => r.GetProperty("Measure").GetString() == "tiny-fp8 Transformer: nodes per provider" && r.GetProperty("Note").GetString()!.Contains("DequantizeLinear×20", StringComparison.Ordinal));
        Assert.StartsWith("| section | measure | value | note |", table, StringComparison.Ordinal);
    }

    /// <summary>The real thing: publish, xz -9e, split; every part fits a call; unstaged, the trimmed self-contained check runs.</summary>
    [Fact]
    [Trait("Category", "GpuStage")]
    public void The_real_stage_fits_the_device_calls_and_unstages_into_a_check_that_runs()
    {
        using var temp = new TempDirectory();
        var clock = Stopwatch.StartNew();
        var stage = Run("bash", [Path.Combine(Repo, "bench/gpu/stage.sh"), "--out", temp.Combine("staged")], timeout: TimeSpan.FromMinutes(30));
        var staged = clock.Elapsed;
        var parts = Directory.GetFiles(temp.Combine("staged"), "*.part-*").Order(StringComparer.Ordinal).ToArray();
        var device = new Dictionary<string, string> { ["FLUXWEB_GPU_DIR"] = temp.Combine("device") };
        foreach (var part in parts)
        {
            Run("bash", [Path.Combine(Repo, "bench/gpu/unstage.sh"), "add", temp.Combine("staged", "MANIFEST"), part], device);
        }

        Run("bash", [Path.Combine(Repo, "bench/gpu/unstage.sh"), "extract", temp.Combine("app")], device, timeout: TimeSpan.FromMinutes(5));
        var table = Run(temp.Combine("app", "fluxweb-gpucheck"), ["--repo", Repo, "--work", temp.Combine("work"), "--cpu-smoke"], timeout: TimeSpan.FromMinutes(3));

        var tree = TreeBytes();
        var manifest = File.ReadAllText(temp.Combine("staged", "MANIFEST"));
        output.WriteLine($"{stage}\nstaged in {staged.TotalMinutes:F1} min; working tree {tree / 1048576.0:F1} MiB\n{manifest}");
        Assert.All(parts, p => Assert.True(tree + new FileInfo(p).Length + manifest.Length <= CallLimit, $"{Path.GetFileName(p)} does not fit a call beside the working tree"));
        Assert.Contains("| oracle | transformer_fwd_noref fp32 |", table, StringComparison.Ordinal);
    }

    private static string MakePayload(string folder, int bytes)
    {
        Directory.CreateDirectory(Path.Combine(folder, "runtimes"));
        var random = new Random(7);
        var data = new byte[bytes];
        random.NextBytes(data);
        File.WriteAllBytes(Path.Combine(folder, "libbig.so"), data);
        File.WriteAllText(Path.Combine(folder, "runtimes", "readme.txt"), "a small file in a folder");
        return folder;
    }

    /// <summary>A PATH with the tools unstage.sh uses and neither xz nor zstd, as on a machine that has only python3 to decompress.</summary>
    private static string BareDevicePath(string folder)
    {
        Directory.CreateDirectory(folder);
        var python = Run("python3", ["-c", "import sys; print(sys.executable)"]).Trim();
        File.CreateSymbolicLink(Path.Combine(folder, "python3"), python);
        foreach (var tool in new[] { "bash", "awk", "basename", "cat", "cmp", "cp", "cut", "grep", "mkdir", "rm", "sha256sum", "stat", "tail", "tar", "tr" })
        {
            var found = Run("bash", ["-c", $"command -v {tool}"]).Trim();
            File.CreateSymbolicLink(Path.Combine(folder, tool), found);
        }

        Assert.False(File.Exists(Path.Combine(folder, "xz")));
        return folder;
    }

    private static long TreeBytes()
    {
        var listed = Run("bash", ["-c", "{ git ls-files -z; git ls-files -z --others --exclude-standard; } | xargs -0 -r stat -c %s -- | awk '{s+=$1} END {print s+0}'"], workingDirectory: Repo);
        return long.Parse(listed.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string Run(string file, string[] arguments, Dictionary<string, string>? environment = null, bool expectFailure = false, TimeSpan? timeout = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? Repo };
        foreach (var (key, value) in environment ?? [])
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(2)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {string.Join(' ', arguments)} did not finish in time");
        }

        var text = stdout.Result + stderr.Result;
        Assert.True(expectFailure ? process.ExitCode != 0 : process.ExitCode == 0, $"{file} {string.Join(' ', arguments)} exited with {process.ExitCode}:\n{text}");
        return text;
    }

    private static string FindRepo()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "FluxWeb.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new DirectoryNotFoundException("FluxWeb.sln not found above " + AppContext.BaseDirectory);
    }
}
