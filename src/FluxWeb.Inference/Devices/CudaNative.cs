using System.Runtime.InteropServices;

namespace FluxWeb.Inference.Devices;

/// <summary>
/// The few driver and runtime calls the probe and the memory budget need, bound at run time so a
/// machine without them simply answers "not there": libcuda (driver API: version, name, compute
/// capability), libcudart (free memory, as ONNX Runtime's own context sees it) and NVML (the
/// driver's version string).
/// </summary>
public sealed unsafe class CudaNative : ICudaDeviceQuery
{
    private const int ComputeCapabilityMajor = 75; // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
    private const int ComputeCapabilityMinor = 76;

    private static readonly Lock InitGate = new();
    private static bool driverInitialised;

    public CudaDeviceFacts Query(int deviceId)
    {
        var cuda = Load("libcuda.so.1") ?? throw new CudaQueryException("no NVIDIA driver (libcuda.so.1 not found)");
        var cuInit = (delegate* unmanaged<uint, int>)Export(cuda, "cuInit");
        var cuDriverGetVersion = (delegate* unmanaged<int*, int>)Export(cuda, "cuDriverGetVersion");
        var cuDeviceGetCount = (delegate* unmanaged<int*, int>)Export(cuda, "cuDeviceGetCount");
        var cuDeviceGet = (delegate* unmanaged<int*, int, int>)Export(cuda, "cuDeviceGet");
        var cuDeviceGetName = (delegate* unmanaged<byte*, int, int, int>)Export(cuda, "cuDeviceGetName");
        var cuDeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)Export(cuda, "cuDeviceGetAttribute");
        var cuDeviceTotalMem = (delegate* unmanaged<nuint*, int, int>)Export(cuda, "cuDeviceTotalMem_v2");
        string Check(int status, string call) => status == 0 ? "" : throw new CudaQueryException($"{call} failed: {DriverError(cuda, status)}");

        lock (InitGate)
        {
            if (!driverInitialised)
            {
                Check(cuInit(0), "cuInit");
                driverInitialised = true;
            }
        }

        int version, count, device, major, minor;
        nuint total;
        Check(cuDriverGetVersion(&version), "cuDriverGetVersion");
        Check(cuDeviceGetCount(&count), "cuDeviceGetCount");
        if (deviceId < 0 || deviceId >= count)
        {
            throw new CudaQueryException(count == 0 ? "the driver sees no GPU" : $"there is no CUDA device {deviceId} (the driver sees {count})");
        }

        Check(cuDeviceGet(&device, deviceId), "cuDeviceGet");
        var name = stackalloc byte[256];
        Check(cuDeviceGetName(name, 256, device), "cuDeviceGetName");
        Check(cuDeviceGetAttribute(&major, ComputeCapabilityMajor, device), "cuDeviceGetAttribute");
        Check(cuDeviceGetAttribute(&minor, ComputeCapabilityMinor, device), "cuDeviceGetAttribute");
        Check(cuDeviceTotalMem(&total, device), "cuDeviceTotalMem");
        return new CudaDeviceFacts(NvmlDriverVersion(), version, count, Marshal.PtrToStringUTF8((nint)name) ?? "unknown GPU", major, minor, (long)total, FreeBytes(deviceId));
    }

    public long? FreeBytes(int deviceId)
    {
        if (Load("libcudart.so.13") is not { } runtime)
        {
            return null;
        }

        var cudaSetDevice = (delegate* unmanaged<int, int>)Export(runtime, "cudaSetDevice");
        var cudaMemGetInfo = (delegate* unmanaged<nuint*, nuint*, int>)Export(runtime, "cudaMemGetInfo");
        nuint free, total;
        // The runtime's current device is per thread; this thread asks about the one ONNX Runtime uses.
        return cudaSetDevice(deviceId) == 0 && cudaMemGetInfo(&free, &total) == 0 ? (long)free : null;
    }

    private static string? NvmlDriverVersion()
    {
        if (Load("libnvidia-ml.so.1") is not { } nvml)
        {
            return null;
        }

        var init = (delegate* unmanaged<int>)Export(nvml, "nvmlInit_v2");
        var getVersion = (delegate* unmanaged<byte*, uint, int>)Export(nvml, "nvmlSystemGetDriverVersion");
        var shutdown = (delegate* unmanaged<int>)Export(nvml, "nvmlShutdown");
        if (init() != 0)
        {
            return null;
        }

        try
        {
            var buffer = stackalloc byte[96];
            return getVersion(buffer, 96) == 0 ? Marshal.PtrToStringUTF8((nint)buffer) : null;
        }
        finally
        {
            shutdown();
        }
    }

    private static string DriverError(nint cuda, int status)
    {
        if (NativeLibrary.TryGetExport(cuda, "cuGetErrorString", out var address))
        {
            byte* text = null;
            if (((delegate* unmanaged<int, byte**, int>)address)(status, &text) == 0 && text is not null)
            {
                return $"{Marshal.PtrToStringUTF8((nint)text)} (CUresult {status})";
            }
        }

        return $"CUresult {status}";
    }

    // Libraries stay loaded for the process: ONNX Runtime loads the same ones anyway.
    private static nint? Load(string name) => NativeLibrary.TryLoad(name, out var handle) ? handle : null;

    private static nint Export(nint library, string name) =>
        NativeLibrary.TryGetExport(library, name, out var address)
            ? address
            : throw new CudaQueryException($"{name} is missing from the installed CUDA libraries (an incomplete or mismatched installation)");
}
