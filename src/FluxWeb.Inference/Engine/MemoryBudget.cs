using FluxWeb.Inference.Devices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FluxWeb.Inference.Engine;

/// <summary>
/// How much memory the engine may fill with model weights and their activation arenas. On a GPU it
/// comes from the device's real free memory (the CUDA runtime's count when the probe ran, before
/// any model loaded) less a reserve for the CUDA context, cuBLAS/cuDNN workspaces and
/// fragmentation, unless <c>Inference:VramBudgetGiB</c> sets it; loads also check the free memory
/// at that moment, so another process on the GPU is noticed. On the CPU it is <c>Inference:RamBudgetGiB</c>, shared evenly by the CPU workers.
/// </summary>
public sealed partial class MemoryBudget(ExecutionDeviceProbe devices, IOptions<InferenceOptions> options, ILogger<MemoryBudget>? logger = null)
{
    private readonly Lazy<long> bytes = new(() => Decide(devices.Device, options.Value, logger ?? NullLogger<MemoryBudget>.Instance));

    public long Bytes => bytes.Value;

    public long ReserveBytes => (long)(options.Value.VramReserveGiB * (1L << 30));

    /// <summary>Free device memory now, or null (CPU, or the runtime cannot say).</summary>
    public long? FreeNow() => devices.Device.IsCuda ? devices.Cuda.FreeBytes(devices.Device.CudaDeviceId) : null;

    internal static long Decide(ExecutionDevice device, InferenceOptions options, ILogger logger)
    {
        if (!device.IsCuda)
        {
            // The CPU workers share the machine's memory (each loads its own copy of a model), so they share the budget.
            return (long)(options.RamBudgetGiB * (1L << 30)) / Math.Max(1, options.CpuWorkers);
        }

        var reserve = (long)(options.VramReserveGiB * (1L << 30));
        var free = device.Gpu?.FreeBytes;
        if (options.VramBudgetGiB > 0)
        {
            var configured = (long)(options.VramBudgetGiB * (1L << 30));
            if (free is { } f && configured > f - reserve)
            {
                LogConfiguredOverFree(logger, configured >> 20, f >> 20, reserve >> 20);
            }

            return configured;
        }

        // Free memory unknown (the runtime could not say): the card's size less the reserve and a margin for other users.
        var budget = (free ?? (long)((device.Gpu?.TotalBytes ?? 0) * 0.9)) - reserve;
        LogBudget(logger, Math.Max(budget, 0) >> 20, free is null ? "90% of the device's total" : "the free memory the CUDA runtime reported", reserve >> 20);
        return Math.Max(budget, 0);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "GPU memory budget {BudgetMb} MB: {Source} less a {ReserveMb} MB reserve (Inference:VramBudgetGiB = 0)")]
    private static partial void LogBudget(ILogger logger, long budgetMb, string source, long reserveMb);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Inference:VramBudgetGiB allows {ConfiguredMb} MB but the GPU had {FreeMb} MB free (less a {ReserveMb} MB reserve): expect out-of-memory failures on large jobs")]
    private static partial void LogConfiguredOverFree(ILogger logger, long configuredMb, long freeMb, long reserveMb);
}
