using FluxWeb.Inference.Devices;
using Xunit.Abstractions;

namespace FluxWeb.Inference.Tests.Devices;

public sealed class CudaKernelTargetsTests(ITestOutputHelper output)
{
    [Fact]
    public void The_kernel_list_is_what_the_shipped_cuda_provider_really_holds()
    {
        var library = CudaKernelTargets.FindProviderLibrary();
        Assert.NotNull(library);

        var (cubins, ptx) = CudaKernelTargets.ReadFatbin(library);

        output.WriteLine($"{library}: cubins {CudaKernelTargets.Describe(cubins)}, PTX {(ptx ? "yes" : "none")}");
        Assert.Equal(CudaKernelTargets.OnnxRuntime131, cubins);
        Assert.False(ptx);
    }

    [Fact]
    public void A_file_without_gpu_code_is_refused_by_name()
    {
        var managed = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libonnxruntime_providers_shared.so");

        var error = Assert.Throws<InvalidDataException>(() => CudaKernelTargets.ReadFatbin(managed));
        Assert.Contains("no .nv_fatbin section", error.Message, StringComparison.Ordinal);
    }
}
