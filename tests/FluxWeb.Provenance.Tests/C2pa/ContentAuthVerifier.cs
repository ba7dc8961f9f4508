using System.Diagnostics;
using System.Text.Json;

namespace FluxWeb.Provenance.Tests.C2pa;

/// <summary>Runs the independent verifier <c>@contentauth/c2pa-node</c> through <c>C2pa/verify.mjs</c>.</summary>
internal static class ContentAuthVerifier
{
    public static JsonElement Verify(byte[] file, string mimeType, string? trustAnchorsPem = null) => InTempFolder(folder =>
    {
        var path = Write(folder, AssetName(mimeType), file);
        return trustAnchorsPem is null
            ? Run("verify.mjs", path, mimeType)
            : Run("verify.mjs", path, mimeType, Write(folder, "anchors.pem", trustAnchorsPem));
    });

    /// <summary>Signs with c2pa-node's own Builder: an independent writer for checking FluxWeb's reader.</summary>
    public static byte[] Sign(byte[] file, string mimeType, string chainPem, string privateKeyPem) => InTempFolder(folder =>
    {
        var output = Path.Combine(folder, "signed-" + AssetName(mimeType));
        Run("sign.mjs", Write(folder, AssetName(mimeType), file), mimeType, output, Write(folder, "chain.pem", chainPem), Write(folder, "key.pem", privateKeyPem));
        return File.ReadAllBytes(output);
    });

    private static string AssetName(string mimeType) => mimeType == "image/png" ? "asset.png" : "asset.jpg";

    private static string Write(string folder, string name, object content)
    {
        var path = Path.Combine(folder, name);
        if (content is byte[] bytes)
        {
            File.WriteAllBytes(path, bytes);
        }
        else
        {
            File.WriteAllText(path, (string)content);
        }

        return path;
    }

    private static T InTempFolder<T>(Func<string, T> action)
    {
        var folder = Directory.CreateTempSubdirectory("fluxweb-c2pa-");
        try
        {
            return action(folder.FullName);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static JsonElement Run(string script, params string[] arguments)
    {
        var tools = Path.Combine(RepositoryRoot(), "tools");
        if (!File.Exists(Path.Combine(tools, "node_modules", "@contentauth", "c2pa-node", "dist", "index.node")))
        {
            throw new InvalidOperationException(
                "tools/node_modules/@contentauth/c2pa-node is missing: run ./build.sh test (or npm ci --prefix tools --ignore-scripts) first.");
        }

        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "C2pa", script));
        start.ArgumentList.Add(tools);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("c2pa-node did not answer within 60 s.");
        }

        var output = stdout.Result.Trim().Split('\n').LastOrDefault(line => line.StartsWith('{'));
        if (process.ExitCode != 0 || output is null)
        {
            throw new InvalidOperationException($"{script} failed ({process.ExitCode}): {stderr.Result}");
        }

        return JsonDocument.Parse(output).RootElement.Clone();
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
}
