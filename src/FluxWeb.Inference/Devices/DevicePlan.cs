using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FluxWeb.Inference.Devices;

/// <summary>One device this process serves: its id (<c>cpu</c>, <c>cpu:1</c>, <c>cuda:0</c> …) and the probe that decided it.</summary>
/// <param name="Index">Its place in the list: 0 is the first device, whose engine is the inference singleton.</param>
public sealed record ServedDevice(string Id, int Index, ExecutionDeviceProbe Probe)
{
    public ExecutionDevice Device => Probe.Device;
}

/// <summary>A CUDA device <c>all</c> found but does not serve, and why.</summary>
public sealed record SkippedDevice(string Id, string Reason);

/// <summary>
/// The devices this process serves, from <c>Inference:Devices</c> and <c>Inference:CpuWorkers</c>, each
/// probed for itself. The first device's probe (<see cref="Primary"/>) is known before anything is probed,
/// so it can be the process's <see cref="ExecutionDeviceProbe"/> (what /healthz, the catalog and warm start
/// ask) without probing at construction. When the devices turn out to be the CPU (<c>cpu</c>, or
/// <c>Inference:Device</c>/<c>all</c> falling back as <c>Auto</c> does), the process runs
/// <c>Inference:CpuWorkers</c> workers on it.
/// </summary>
public sealed partial class DevicePlan
{
    private readonly InferenceOptions options;
    private readonly ICudaDeviceQuery cuda;
    private readonly ILogger<ExecutionDeviceProbe> logger;
    private readonly ProbeEnvironment environment;
    private readonly Lazy<AllScan>? all;
    private readonly Lazy<(IReadOnlyList<ServedDevice> Devices, IReadOnlyList<SkippedDevice> Skipped)> resolved;

    public DevicePlan(IOptions<InferenceOptions> options, ICudaDeviceQuery cuda, ILogger<ExecutionDeviceProbe> logger)
        : this(options.Value, cuda, logger, ProbeEnvironment.Machine)
    {
    }

    internal DevicePlan(InferenceOptions options, ICudaDeviceQuery cuda, ILogger<ExecutionDeviceProbe> logger, ProbeEnvironment environment)
    {
        this.options = options;
        this.cuda = cuda;
        this.logger = logger;
        this.environment = environment;
        Selection = DeviceSelection.Parse(options);
        switch (Selection.Kind)
        {
            case DeviceSelectionKind.Cpu:
                Primary = new ExecutionDeviceProbe(DeviceTarget.Cpu, logger, cuda, environment);
                break;
            case DeviceSelectionKind.Cuda:
                Primary = new ExecutionDeviceProbe(DeviceTarget.Listed(Selection.CudaIds[0]), logger, cuda, environment);
                break;
            case DeviceSelectionKind.AllCuda:
                all = new Lazy<AllScan>(ScanAll);
                Primary = new ExecutionDeviceProbe(DeviceTarget.Found(0), cuda, () => all.Value.First);
                break;
            default:
                Primary = new ExecutionDeviceProbe(DeviceTarget.Configured(options), logger, cuda, environment);
                break;
        }

        resolved = new Lazy<(IReadOnlyList<ServedDevice>, IReadOnlyList<SkippedDevice>)>(Resolve);
    }

    public DeviceSelection Selection { get; }

    /// <summary>The first device's probe: the process's <see cref="ExecutionDeviceProbe"/>.</summary>
    public ExecutionDeviceProbe Primary { get; }

    /// <summary>Every device served, the first first; probes them all (throws when a device that must work does not).</summary>
    public IReadOnlyList<ServedDevice> Devices => resolved.Value.Devices;

    /// <summary>CUDA devices <c>all</c> found and does not serve, with the reason (also logged).</summary>
    public IReadOnlyList<SkippedDevice> Skipped => resolved.Value.Skipped;

    public bool IsResolved => resolved.IsValueCreated;

    /// <summary>A device that must work (<c>cuda:N</c>, or <c>Inference:Device = Cuda</c>) is probed before the host starts, so a broken one stops it.</summary>
    public bool ProbesBeforeStart => Selection.Kind == DeviceSelectionKind.Cuda || (options.Device == DevicePreference.Cuda && Selection.Kind != DeviceSelectionKind.Cpu);

    /// <summary>Nothing to find out before a job needs it: the CPU's precision check runs when first asked.</summary>
    public bool IsCpuOnly => Selection.Kind == DeviceSelectionKind.Cpu || (Selection.Kind == DeviceSelectionKind.Configured && options.Device == DevicePreference.Cpu);

    private (IReadOnlyList<ServedDevice>, IReadOnlyList<SkippedDevice>) Resolve()
    {
        var first = Primary.Device;
        var skipped = all?.Value.Skipped ?? [];
        if (!first.IsCuda)
        {
            // One probe answers for the CPU; each worker still gets its own sessions.
            var workers = Enumerable.Range(0, Selection.CpuWorkers).Select(i => new ServedDevice(i == 0 ? "cpu" : $"cpu:{i}", i, Primary)).ToList();
            if (workers.Count > 1)
            {
                LogCpuWorkers(logger, workers.Count);
            }

            return (workers, skipped);
        }

        var devices = new List<ServedDevice> { new($"cuda:{first.CudaDeviceId}", 0, Primary) };
        switch (Selection.Kind)
        {
            case DeviceSelectionKind.Cuda:
                var count = first.Gpu?.DeviceCount;
                foreach (var id in Selection.CudaIds.Skip(1))
                {
                    if (count is { } known && id >= known)
                    {
                        throw new InvalidOperationException($"{DeviceSelection.DevicesSetting} lists cuda:{id}, but the driver reports {known} CUDA device{(known == 1 ? "" : "s")} (cuda:0{(known > 1 ? $" to cuda:{known - 1}" : "")}): remove cuda:{id}, or set {DeviceSelection.DevicesSetting}=all.");
                    }

                    var probe = new ExecutionDeviceProbe(DeviceTarget.Listed(id), logger, cuda, environment);
                    _ = probe.Device; // refuses here, at start, when this device cannot be used
                    devices.Add(new ServedDevice($"cuda:{id}", devices.Count, probe));
                }

                break;
            case DeviceSelectionKind.AllCuda:
                foreach (var probe in all!.Value.Usable.Skip(1))
                {
                    devices.Add(new ServedDevice($"cuda:{probe.Device.CudaDeviceId}", devices.Count, probe));
                }

                break;
        }

        return (devices, skipped);
    }

    /// <summary>What <c>all</c> finds: every device the driver reports, probed; the usable ones served, the others skipped with the reason.</summary>
    private AllScan ScanAll()
    {
        var zero = new ExecutionDeviceProbe(DeviceTarget.Found(0), null, cuda, environment);
        var probes = new List<ExecutionDeviceProbe> { zero };
        // The driver's count comes with any device's facts, also from a device that was refused.
        var count = zero.Device.Gpu?.DeviceCount ?? 0;
        for (var id = 1; id < count; id++)
        {
            probes.Add(new ExecutionDeviceProbe(DeviceTarget.Found(id), null, cuda, environment));
        }

        var usable = probes.Where(p => p.Device.IsCuda).ToList();
        var skipped = probes.Where(p => !p.Device.IsCuda && p.Device.Gpu is not null)
            .Select(p => new SkippedDevice($"cuda:{p.Target.CudaDeviceId}", DevicePolicy.WhyNotCuda(p.Device)))
            .ToList();
        foreach (var device in skipped)
        {
            LogSkipped(logger, device.Id, device.Reason);
        }

        // No CUDA device works: the CPU, with cuda:0's reason, as Inference:Device = Auto does; with Cuda, a refusal as Cuda gives.
        if (usable.Count == 0 && options.Device == DevicePreference.Cuda)
        {
            throw new InvalidOperationException($"{DeviceTarget.AllRefusal} but CUDA cannot be used: {DevicePolicy.WhyNotCuda(zero.Device)}.");
        }

        var first = usable.Count > 0 ? usable[0].Device : zero.Device;
        foreach (var probe in usable)
        {
            ExecutionDeviceProbe.Report(logger, probe.Device);
        }

        if (usable.Count == 0)
        {
            ExecutionDeviceProbe.Report(logger, first);
        }

        return new AllScan(first, usable, skipped);
    }

    private sealed record AllScan(ExecutionDevice First, IReadOnlyList<ExecutionDeviceProbe> Usable, IReadOnlyList<SkippedDevice> Skipped);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Inference:Devices is all, but {Device} is not served: {Reason}")]
    private static partial void LogSkipped(ILogger logger, string device, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Workers} CPU workers (Inference:CpuWorkers) share the cores and the RAM budget")]
    private static partial void LogCpuWorkers(ILogger logger, int workers);
}
