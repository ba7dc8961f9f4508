using System.Diagnostics;
using FluxWeb.Inference;
using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Packages;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FluxWeb.GpuCheck;

/// <summary>
/// Which attention kernel ONNX Runtime picked for each MultiHeadAttention node. ONNX Runtime prints
/// that to the process's stdout when ORT_ENABLE_ATTENTION_KERNEL_DEBUG_INFO=1 (from native code, so
/// it cannot be captured in-process): the check runs itself as a child with the variable set and
/// reads the child's output.
/// </summary>
public static class AttentionProbe
{
    public const string Variable = "ORT_ENABLE_ATTENTION_KERNEL_DEBUG_INFO";

    /// <summary>In the parent: the distinct kernel lines the child printed, with how often each appeared.</summary>
    public static IReadOnlyList<(string Line, int Count)> Run(string packageFolder, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!, ["--attention-kernels", packageFolder])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            // Run from the build output (tests, development): dotnet fluxweb-gpucheck.dll …
            start.ArgumentList.Insert(0, typeof(AttentionProbe).Assembly.Location);
        }

        start.Environment[Variable] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the attention probe did not finish in {timeout.TotalSeconds:0} s");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"the attention probe exited with {process.ExitCode}: {stderr.Result.Split('\n').LastOrDefault(l => l.Trim().Length > 0)}");
        }

        return stdout.Result.Split('\n')
            .Select(l => l.Trim())
            .Where(l => l.Contains("Attention", StringComparison.OrdinalIgnoreCase) || l.Contains("kernel", StringComparison.OrdinalIgnoreCase))
            // Node names differ per block; the choice is what matters.
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"Node=\S+", "Node=…"))
            .GroupBy(l => l, StringComparer.Ordinal)
            .Select(g => (g.Key, g.Count()))
            .ToList();
    }

    /// <summary>In the child: load the package's transformer on the GPU and run one 1024² step.</summary>
    public static int Child(string packageFolder)
    {
        var options = Options.Create(new InferenceOptions { Device = DevicePreference.Auto });
        var probe = new ExecutionDeviceProbe(options, NullLogger<ExecutionDeviceProbe>.Instance);
        var factory = new SessionFactory(probe, options);
        var manifest = ModelPackageManifest.Read(Path.Combine(packageFolder, ModelPackageManifest.FileName));
        using var session = factory.Create(Path.Combine(packageFolder, manifest.Components.Transformer!.File), CancellationToken.None, quantizedWeights: manifest.Precision.Weights is "fp8" or "nvfp4");
        Measure.RunOnce(session, manifest, ModelComponent.Transformer, probe.Device.IsCuda ? 1024 : 256);
        return 0;
    }
}
