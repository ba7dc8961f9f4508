using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using FluxWeb.Application.Safety;
using FluxWeb.Domain.Time;
using FluxWeb.Provenance;
using FluxWeb.Provenance.Filters;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FluxWeb.Testing.Safety;

/// <summary>
/// nsfwjs 4.4.0 as the tests get it: the published tarball, packed by npm from the package the test
/// command's <c>npm ci --prefix tools</c> installed (so it comes from npm's cache, not the internet),
/// checked against the sha512 pinned in <c>tools/package-lock.json</c>; and the reference run of
/// nsfwjs itself in Node.
/// </summary>
public static class NsfwjsPackage
{
    public const string Version = "4.4.0";

    private static readonly Lazy<string> Packed = new(Pack, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string ToolsFolder => Path.Combine(RepositoryRoot(), "tools");

    /// <summary>The tarball's path (shared, read-only: copy it before changing a byte).</summary>
    public static string TarballPath => Packed.Value;

    /// <summary>The sha512 integrity npm recorded for nsfwjs in tools/package-lock.json.</summary>
    public static string LockedIntegrity()
    {
        using var lockFile = JsonDocument.Parse(File.ReadAllText(Path.Combine(ToolsFolder, "package-lock.json")));
        return lockFile.RootElement.GetProperty("packages").GetProperty("node_modules/nsfwjs").GetProperty("integrity").GetString()!;
    }

    /// <summary>Installs the classifier from the tarball into <paramref name="modelsDirectory"/>/safety, as <c>fluxweb safety install --from</c> does.</summary>
    public static InstalledClassifier InstallInto(string modelsDirectory, bool force = false) =>
        Installer(modelsDirectory).InstallFromFileAsync(TarballPath, force).GetAwaiter().GetResult();

    public static ImageClassifierInstaller Installer(string modelsDirectory) => new(
        Options.Create(new ContentFilterOptions()),
        Options.Create(new ProvenanceStorageOptions { ModelsDirectory = modelsDirectory }),
        AppClock.Real,
        NullLogger<ImageClassifierInstaller>.Instance);

    /// <summary>nsfwjs's own probabilities for raw RGB pictures, by name (see nsfwjs-reference.cjs).</summary>
    public static Dictionary<string, double[]> Reference(IEnumerable<(string Name, int Width, int Height, byte[] Rgb)> pictures)
    {
        RequireTools();
        var folder = Directory.CreateTempSubdirectory("fluxweb-nsfwjs-");
        try
        {
            var list = pictures.Select((p, i) =>
            {
                var file = Path.Combine(folder.FullName, $"{i}.rgb");
                File.WriteAllBytes(file, p.Rgb);
                return new { name = p.Name, file, width = p.Width, height = p.Height };
            }).ToList();
            var listPath = Path.Combine(folder.FullName, "pictures.json");
            File.WriteAllText(listPath, JsonSerializer.Serialize(list));
            var output = RunNode(Path.Combine(RepositoryRoot(), "tests", "FluxWeb.Testing", "Safety", "nsfwjs-reference.cjs"), ToolsFolder, listPath);
            using var json = JsonDocument.Parse(output);
            if (json.RootElement.GetProperty("backend").GetString() != "cpu")
            {
                throw new InvalidOperationException("nsfwjs did not run on TensorFlow.js's CPU backend.");
            }

            return json.RootElement.GetProperty("probabilities").EnumerateObject()
                .ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(v => v.GetDouble()).ToArray());
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    public static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "FluxWeb.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException("FluxWeb.sln not found above the test output folder.");
    }

    private static void RequireTools()
    {
        if (!File.Exists(Path.Combine(ToolsFolder, "node_modules", "nsfwjs", "package.json")) || !File.Exists(Path.Combine(ToolsFolder, "node_modules", "@tensorflow", "tfjs", "package.json")))
        {
            throw new InvalidOperationException("tools/node_modules/nsfwjs or @tensorflow/tfjs is missing: run ./build.sh test (or npm ci --prefix tools --ignore-scripts) first.");
        }
    }

    /// <summary>
    /// <c>npm pack nsfwjs@4.4.0</c> once per machine into tools/node_modules/.fluxweb-tests (ignored by
    /// git, created by the test command's npm ci). Test processes run side by side: each packs into its
    /// own folder and renames, so a reader never sees half a file.
    /// </summary>
    private static string Pack()
    {
        RequireTools();
        var cache = Path.Combine(ToolsFolder, "node_modules", ".fluxweb-tests");
        var target = Path.Combine(cache, $"nsfwjs-{Version}.tgz");
        var integrity = LockedIntegrity();
        if (File.Exists(target) && Integrity(target) == integrity)
        {
            return target;
        }

        var work = Directory.CreateDirectory(Path.Combine(cache, $".pack-{Guid.NewGuid():N}"));
        try
        {
            var start = new ProcessStartInfo("npm") { WorkingDirectory = ToolsFolder, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { "pack", $"nsfwjs@{Version}", "--prefer-offline", "--ignore-scripts", "--loglevel=error", "--pack-destination", work.FullName })
            {
                start.ArgumentList.Add(argument);
            }

            Run(start, "npm pack");
            var packed = Path.Combine(work.FullName, $"nsfwjs-{Version}.tgz");
            var actual = Integrity(packed);
            if (actual != integrity)
            {
                throw new InvalidOperationException($"npm pack gave nsfwjs {Version} with {actual}, but tools/package-lock.json pins {integrity}.");
            }

            File.Move(packed, target, overwrite: true);
            return target;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static string Integrity(string path) => "sha512-" + Convert.ToBase64String(SHA512.HashData(File.ReadAllBytes(path)));

    private static string RunNode(string script, params string[] arguments)
    {
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var output = Run(start, "nsfwjs-reference.cjs");
        return output.Split('\n').Last(line => line.StartsWith('{'));
    }

    private static string Run(ProcessStartInfo start, string what)
    {
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(300_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{what} did not finish within 5 minutes.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{what} failed ({process.ExitCode}): {stderr.Result}");
        }

        return stdout.Result;
    }
}
