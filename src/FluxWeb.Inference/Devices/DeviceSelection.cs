using System.Globalization;

namespace FluxWeb.Inference.Devices;

public enum DeviceSelectionKind
{
    /// <summary><c>Inference:Devices</c> is empty: the one device of <c>Inference:Device</c> and <c>Inference:CudaDeviceId</c>, as before it existed.</summary>
    Configured,

    /// <summary><c>cpu</c>: <c>Inference:CpuWorkers</c> workers on the CPU.</summary>
    Cpu,

    /// <summary><c>all</c>: every CUDA device the driver reports.</summary>
    AllCuda,

    /// <summary>A list of <c>cuda:N</c>.</summary>
    Cuda,
}

/// <summary>
/// What <c>Inference:Devices</c> asks for, read and checked before anything is probed, so a typo stops
/// the process at start with the setting named and the fix said, instead of serving the wrong devices.
/// </summary>
public sealed record DeviceSelection(DeviceSelectionKind Kind, IReadOnlyList<int> CudaIds, int CpuWorkers)
{
    public const string DevicesSetting = "Inference:Devices";
    public const string CpuWorkersSetting = "Inference:CpuWorkers";
    public const int MaxCpuWorkers = 64;

    private const string Forms = "list cuda:0, cuda:1, … (CUDA devices as the driver numbers them), all (every CUDA device) or cpu (with Inference:CpuWorkers for several CPU workers), separated by commas";

    /// <summary>The selection, or an <see cref="ArgumentException"/> whose message names the setting and says how to fix it.</summary>
    public static DeviceSelection Parse(InferenceOptions options) =>
        TryParse(options, out var selection, out var problem) ? selection : throw new ArgumentException(problem);

    /// <summary>Why the settings cannot be used (the message shown at start), or null.</summary>
    public static string? Problem(InferenceOptions options) => TryParse(options, out _, out var problem) ? null : problem;

    private static bool TryParse(InferenceOptions options, out DeviceSelection selection, out string problem)
    {
        selection = new DeviceSelection(DeviceSelectionKind.Configured, [], options.CpuWorkers);
        problem = "";
        if (options.CpuWorkers is < 1 or > MaxCpuWorkers)
        {
            problem = $"{CpuWorkersSetting} is {options.CpuWorkers}: it must be between 1 and {MaxCpuWorkers} (how many workers run jobs side by side on the CPU; 1 unless you want several).";
            return false;
        }

        var entries = Entries(options.Devices);
        if (entries.Count == 0)
        {
            return true;
        }

        var cpu = false;
        var all = false;
        var ids = new List<int>();
        foreach (var entry in entries)
        {
            var token = entry.Trim();
            if (token.Length == 0)
            {
                problem = $"{DevicesSetting} has an empty entry: {Forms}.";
                return false;
            }

            if (string.Equals(token, "cpu", StringComparison.OrdinalIgnoreCase))
            {
                if (cpu)
                {
                    problem = $"{DevicesSetting} lists cpu twice: list it once, and set {CpuWorkersSetting} for several CPU workers.";
                    return false;
                }

                cpu = true;
            }
            else if (string.Equals(token, "all", StringComparison.OrdinalIgnoreCase))
            {
                if (all)
                {
                    problem = $"{DevicesSetting} lists all twice: list it once.";
                    return false;
                }

                all = true;
            }
            else if (token.StartsWith("cuda:", StringComparison.OrdinalIgnoreCase)
                && int.TryParse(token.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var id))
            {
                if (ids.Contains(id))
                {
                    problem = $"{DevicesSetting} lists cuda:{id} twice: each device runs one worker; list it once.";
                    return false;
                }

                ids.Add(id);
            }
            else
            {
                problem = $"{DevicesSetting} has '{token}', which is not a device: {Forms}.";
                return false;
            }
        }

        if (all && ids.Count > 0)
        {
            problem = $"{DevicesSetting} lists all and cuda:{ids[0]}: all already means every CUDA device the driver reports; list either all or the cuda:N devices you want.";
            return false;
        }

        if (cpu && (all || ids.Count > 0))
        {
            // One queue feeds every worker: a CPU worker would take jobs a GPU would finish many times sooner,
            // and its threads would take the cores that feed the GPUs their work.
            problem = $"{DevicesSetting} lists cpu together with CUDA devices ({(all ? "all" : $"cuda:{ids[0]}")}), which is refused: a CPU worker takes jobs from the same queue at a small fraction of a GPU's speed (a job a GPU finishes in seconds would wait minutes on it), and its threads compete for the cores that feed the GPUs. List the CUDA devices only, or run a separate CPU-only process with {DevicesSetting}=cpu.";
            return false;
        }

        if (options.CudaDeviceId != 0)
        {
            problem = $"Inference:CudaDeviceId is {options.CudaDeviceId} but {DevicesSetting} is set, which names the devices itself: remove Inference:CudaDeviceId (list cuda:{options.CudaDeviceId} in {DevicesSetting} instead).";
            return false;
        }

        if (options.Device == DevicePreference.Cpu && !cpu)
        {
            problem = $"Inference:Device is Cpu but {DevicesSetting} lists CUDA devices: set {DevicesSetting}=cpu, or remove Inference:Device.";
            return false;
        }

        if (options.Device == DevicePreference.Cuda && cpu)
        {
            problem = $"Inference:Device is Cuda but {DevicesSetting} is cpu: remove one of them.";
            return false;
        }

        selection = cpu ? selection with { Kind = DeviceSelectionKind.Cpu }
            : all ? selection with { Kind = DeviceSelectionKind.AllCuda }
            : selection with { Kind = DeviceSelectionKind.Cuda, CudaIds = ids };
        return true;
    }

    /// <summary>The entries as configured: a list (JSON array, <c>Inference__Devices__0</c>) or one comma-separated value (<c>Inference__Devices=cuda:0,cuda:1</c>).</summary>
    private static List<string> Entries(IReadOnlyList<string>? devices)
    {
        var entries = new List<string>();
        foreach (var device in devices ?? [])
        {
            entries.AddRange((device ?? "").Split(','));
        }

        // One blank value (an empty environment variable) means the setting is not used.
        return entries.All(string.IsNullOrWhiteSpace) ? [] : entries;
    }
}
