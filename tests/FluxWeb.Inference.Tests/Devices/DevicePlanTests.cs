using FluxWeb.Inference.Devices;
using FluxWeb.Inference.Engine;
using FluxWeb.Inference.Onnx;
using FluxWeb.Inference.Pipeline;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FluxWeb.Inference.Tests.Devices;

/// <summary>
/// Which devices a process serves, decided on a faked GPU box (the driver's answers from a fake
/// <see cref="ICudaDeviceQuery"/>, the CUDA libraries present, the precision graph's results per device),
/// as <see cref="DevicePolicyTests"/> does for one device.
/// </summary>
public sealed class DevicePlanTests
{
    /// <summary>A box whose driver sees <paramref name="gpus"/> GPUs; <paramref name="computeMajor"/> per device (5: an architecture ONNX Runtime has no kernels for).</summary>
    private sealed class FakeCuda(params int[] computeMajor) : ICudaDeviceQuery
    {
        public List<int> FreeAskedFor { get; } = [];

        public CudaDeviceFacts Query(int deviceId) => deviceId < 0 || deviceId >= computeMajor.Length
            ? throw new CudaQueryException(computeMajor.Length == 0 ? "the driver sees no GPU" : $"there is no CUDA device {deviceId} (the driver sees {computeMajor.Length})")
            : new CudaDeviceFacts("580.65.06", 13000, computeMajor.Length, $"GPU {deviceId}", computeMajor[deviceId], 0, 80L << 30, FreeOf(deviceId));

        public long? FreeBytes(int deviceId)
        {
            lock (FreeAskedFor)
            {
                FreeAskedFor.Add(deviceId);
            }

            return FreeOf(deviceId);
        }

        /// <summary>Each GPU has a different amount free, so a budget shows which one it asked.</summary>
        public static long FreeOf(int deviceId) => (10L + deviceId) << 30;
    }

    private static ProbeEnvironment Box(string? missingLibrary = null) => new(
        () => missingLibrary,
        () => null,
        _ => DevicePolicyTests.AllRan,
        () => DevicePolicyTests.CpuLikeThisMachine);

    private static DevicePlan Plan(InferenceOptions options, ICudaDeviceQuery cuda, ProbeEnvironment? box = null) =>
        new(options, cuda, NullLogger<ExecutionDeviceProbe>.Instance, box ?? Box());

    private static IReadOnlyList<string> Ids(DevicePlan plan) => plan.Devices.Select(d => d.Id).ToList();

    [Fact]
    public void All_serves_every_gpu_the_driver_reports_and_skips_one_it_cannot_use_with_the_reason()
    {
        var plan = Plan(new InferenceOptions { Devices = ["all"] }, new FakeCuda(9, 5, 8));

        Assert.Equal(["cuda:0", "cuda:2"], Ids(plan));
        Assert.All(plan.Devices, d => Assert.True(d.Device.IsCuda));
        Assert.Equal(2, plan.Devices[1].Device.CudaDeviceId);
        var skipped = Assert.Single(plan.Skipped);
        Assert.Equal("cuda:1", skipped.Id);
        Assert.StartsWith("GPU 1 has compute capability 5.0, and ONNX Runtime 1.31's CUDA provider carries kernels only for", skipped.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void All_starts_with_the_first_gpu_that_works_when_gpu_0_does_not()
    {
        var plan = Plan(new InferenceOptions { Devices = ["all"] }, new FakeCuda(5, 9));

        Assert.Equal(["cuda:1"], Ids(plan));
        Assert.Equal(1, plan.Primary.Device.CudaDeviceId);
        Assert.Equal("cuda:0", Assert.Single(plan.Skipped).Id);
    }

    [Fact]
    public void All_without_a_usable_gpu_falls_back_to_the_cpu_workers_as_auto_does()
    {
        var plan = Plan(new InferenceOptions { Devices = ["all"], CpuWorkers = 2 }, new FakeCuda(), Box(missingLibrary: "libcuda.so.1"));

        Assert.Equal(["cpu", "cpu:1"], Ids(plan));
        Assert.Equal("CUDA unavailable: no NVIDIA driver (libcuda.so.1 not found). Running on CPU.", plan.Primary.Device.Reason);
        Assert.Empty(plan.Skipped);

        var refusedGpus = Plan(new InferenceOptions { Devices = ["all"] }, new FakeCuda(5, 5));
        Assert.Equal(["cpu"], Ids(refusedGpus));
        Assert.StartsWith("CUDA unavailable: GPU 0 has compute capability 5.0", refusedGpus.Primary.Device.Reason, StringComparison.Ordinal);
        Assert.Equal(["cuda:0", "cuda:1"], refusedGpus.Skipped.Select(s => s.Id));
    }

    [Fact]
    public void All_with_device_cuda_refuses_to_start_without_any_usable_gpu()
    {
        var plan = Plan(new InferenceOptions { Devices = ["all"], Device = DevicePreference.Cuda }, new FakeCuda(), Box(missingLibrary: "libcuda.so.1"));

        Assert.True(plan.ProbesBeforeStart);
        var error = Assert.Throws<InvalidOperationException>(() => plan.Devices);
        Assert.Equal("Inference:Devices is all and Inference:Device is Cuda but CUDA cannot be used: no NVIDIA driver (libcuda.so.1 not found).", error.Message);

        // One GPU that works is enough: the others are skipped as with Auto.
        var partly = Plan(new InferenceOptions { Devices = ["all"], Device = DevicePreference.Cuda }, new FakeCuda(5, 9));
        Assert.Equal(["cuda:1"], Ids(partly));
        Assert.Equal("cuda:0", Assert.Single(partly.Skipped).Id);
    }

    [Fact]
    public void Listed_gpus_are_served_in_the_order_listed()
    {
        var plan = Plan(new InferenceOptions { Devices = ["cuda:2,cuda:0"] }, new FakeCuda(9, 9, 9));

        Assert.Equal(["cuda:2", "cuda:0"], Ids(plan));
        Assert.Equal(2, plan.Primary.Device.CudaDeviceId);
        Assert.True(plan.ProbesBeforeStart);
    }

    [Fact]
    public void A_listed_gpu_beyond_what_the_driver_reports_refuses_to_start_and_says_how_many_there_are()
    {
        var second = Assert.Throws<InvalidOperationException>(() => Plan(new InferenceOptions { Devices = ["cuda:0", "cuda:3"] }, new FakeCuda(9, 9)).Devices);
        var first = Assert.Throws<InvalidOperationException>(() => Plan(new InferenceOptions { Devices = ["cuda:3"] }, new FakeCuda(9, 9)).Devices);

        Assert.Equal("Inference:Devices lists cuda:3, but the driver reports 2 CUDA devices (cuda:0 to cuda:1): remove cuda:3, or set Inference:Devices=all.", second.Message);
        Assert.Equal("Inference:Devices lists cuda:3 but CUDA cannot be used: the NVIDIA driver could not describe CUDA device 3: there is no CUDA device 3 (the driver sees 2).", first.Message);
    }

    [Fact]
    public void A_listed_gpu_that_cannot_be_used_refuses_to_start_where_all_would_skip_it()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Plan(new InferenceOptions { Devices = ["cuda:0", "cuda:1"] }, new FakeCuda(9, 5)).Devices);
        var noDriver = Assert.Throws<InvalidOperationException>(() => Plan(new InferenceOptions { Devices = ["cuda:0"] }, new FakeCuda(), Box(missingLibrary: "libcuda.so.1")).Devices);

        Assert.StartsWith("Inference:Devices lists cuda:1 but CUDA cannot be used: GPU 1 has compute capability 5.0", error.Message, StringComparison.Ordinal);
        Assert.Equal("Inference:Devices lists cuda:0 but CUDA cannot be used: no NVIDIA driver (libcuda.so.1 not found).", noDriver.Message);
    }

    [Fact]
    public async Task Startup_refuses_a_listed_gpu_before_the_host_starts_and_leaves_auto_to_the_background()
    {
        var listed = new InferenceStartup(Plan(new InferenceOptions { Devices = ["cuda:0"] }, new FakeCuda(), Box(missingLibrary: "libcuda.so.1")));
        var all = Plan(new InferenceOptions { Devices = ["all"] }, new FakeCuda(9, 9));

        await Assert.ThrowsAsync<InvalidOperationException>(() => listed.StartAsync(CancellationToken.None));
        Assert.False(all.ProbesBeforeStart);
        await new InferenceStartup(all).StartAsync(CancellationToken.None);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!all.IsResolved && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.True(all.IsResolved, "the background probe did not finish within 30 s");
        Assert.Equal(["cuda:0", "cuda:1"], Ids(all));
    }

    [Theory]
    [InlineData(DevicePreference.Cpu, 3, new[] { "cpu", "cpu:1", "cpu:2" })]
    [InlineData(DevicePreference.Auto, 1, new[] { "cpu" })]
    public void Without_the_list_the_configured_device_serves_and_on_the_cpu_the_cpu_workers(DevicePreference device, int workers, string[] expected)
    {
        var plan = Plan(new InferenceOptions { Device = device, CpuWorkers = workers }, new FakeCuda(), Box(missingLibrary: "libcuda.so.1"));

        Assert.Equal(expected, Ids(plan));
        Assert.All(plan.Devices, d => Assert.Same(plan.Primary, d.Probe));
    }

    [Fact]
    public void Without_the_list_a_gpu_box_serves_the_configured_gpu_alone_whatever_the_cpu_workers()
    {
        var plan = Plan(new InferenceOptions { CudaDeviceId = 1, CpuWorkers = 4 }, new FakeCuda(9, 9));

        Assert.Equal(["cuda:1"], Ids(plan));
        Assert.Equal("CUDA device 1: GPU 1 (compute capability 9.0, driver 580.65.06, CUDA 13.0, 80.0 GiB); the probe graph ran on CUDA in fp32, fp16, bf16.", plan.Primary.Device.Reason);
    }

    [Fact]
    public void Each_gpu_gets_an_engine_of_its_own_whose_memory_budget_asks_its_own_gpu()
    {
        var cuda = new FakeCuda(9, 9, 9);
        var options = new InferenceOptions { Devices = ["cuda:0", "cuda:2"], VramReserveGiB = 1 };
        using var provider = Compose(options, cuda, services => services.AddSingleton(sp => Plan(sp.GetRequiredService<IOptions<InferenceOptions>>().Value, cuda)));

        var engines = provider.GetRequiredService<IDeviceEngines>().Engines;

        Assert.Equal(["cuda:0", "cuda:2"], engines.Select(e => e.DeviceId));
        Assert.Same(provider.GetRequiredService<InferenceEngine>(), engines[0].Generator);
        Assert.Same(provider.GetRequiredService<ExecutionDeviceProbe>(), provider.GetRequiredService<DevicePlan>().Primary);
        var second = Assert.IsType<InferenceEngine>(engines[1].Generator);
        Assert.Equal(2, second.Sessions.Factory.Device.CudaDeviceId);
        Assert.Equal(2, engines[1].Device!.CudaDeviceId);
        // The budget is the free memory of the GPU it runs on (less the reserve), and loads ask that GPU.
        Assert.Equal(FakeCuda.FreeOf(2) - (1L << 30), second.Sessions.Budget.Bytes);
        Assert.Equal(FakeCuda.FreeOf(0) - (1L << 30), ((InferenceEngine)engines[0].Generator).Sessions.Budget.Bytes);
        Assert.Equal(FakeCuda.FreeOf(2), second.Sessions.Budget.FreeNow());
        Assert.Equal(FakeCuda.FreeOf(2), second.Sessions.Factory.FreeDeviceBytes());
    }

    [Fact]
    public void A_replaced_generator_serves_every_cpu_worker_and_a_registered_factory_gives_each_its_own()
    {
        var options = new InferenceOptions { Device = DevicePreference.Cpu, CpuWorkers = 3 };
        var fake = new NoGenerator();
        using var replaced = Compose(options, new FakeCuda(), services => services.AddSingleton<IImageGenerator>(fake));
        using var own = Compose(options, new FakeCuda(), services => services.AddSingleton<IDeviceGeneratorFactory>(new PerDevice()));

        var shared = replaced.GetRequiredService<IDeviceEngines>().Engines;
        var each = own.GetRequiredService<IDeviceEngines>().Engines;

        Assert.Equal(["cpu", "cpu:1", "cpu:2"], shared.Select(e => e.DeviceId));
        Assert.All(shared, e => Assert.Same(fake, e.Generator));
        Assert.Equal(["cpu", "cpu:1", "cpu:2"], each.Select(e => ((NoGenerator)e.Generator).Device));
    }

    [Theory]
    [InlineData(false, 1, 0, 16, null)] // one worker: ONNX Runtime's default, as before
    [InlineData(false, 1, 4, 16, 4)]
    [InlineData(false, 3, 0, 16, 5)] // the cores shared out
    [InlineData(false, 4, 0, 2, 1)] // never below one thread
    [InlineData(false, 2, 8, 16, 4)] // CpuThreads is shared out too
    [InlineData(true, 4, 0, 16, null)] // a GPU session keeps the setting
    public void Cpu_workers_share_the_cores_instead_of_each_taking_all_of_them(bool cuda, int workers, int cpuThreads, int cores, int? expected)
    {
        var device = new ExecutionDevice(cuda ? ExecutionDeviceKind.Cuda : ExecutionDeviceKind.Cpu, 0, "test");

        Assert.Equal(expected, SessionFactory.IntraOpThreads(device, new InferenceOptions { CpuWorkers = workers, CpuThreads = cpuThreads }, cores));
    }

    [Fact]
    public void Cpu_workers_share_the_ram_budget()
    {
        var cpu = new ExecutionDevice(ExecutionDeviceKind.Cpu, 0, "test");

        Assert.Equal(8L << 30, MemoryBudget.Decide(cpu, new InferenceOptions { RamBudgetGiB = 32, CpuWorkers = 4 }, NullLogger.Instance));
        Assert.Equal(32L << 30, MemoryBudget.Decide(cpu, new InferenceOptions { RamBudgetGiB = 32 }, NullLogger.Instance));
    }

    private static ServiceProvider Compose(InferenceOptions options, ICudaDeviceQuery cuda, Action<IServiceCollection> replace)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Inference:Device"] = options.Device.ToString(),
            ["Inference:CpuWorkers"] = options.CpuWorkers.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Inference:VramReserveGiB"] = options.VramReserveGiB.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["FluxWeb:ModelsDirectory"] = Path.GetTempPath(),
        };
        foreach (var (device, i) in options.Devices.Select((d, i) => (d, i)))
        {
            settings[$"Inference:Devices:{i}"] = device;
        }

        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddLogging();
        services.AddInference();
        services.AddSingleton(cuda);
        replace(services);
        return services.BuildServiceProvider();
    }

    private sealed class NoGenerator(string device = "") : IImageGenerator
    {
        public string Device => device;

        public ResolvedGeneration Validate(GenerationRequest request) => throw new NotSupportedException();

        public Task<GenerationResult> GenerateAsync(GenerationRequest request, IProgress<GenerationProgress>? progress, CancellationToken cancellationToken) => throw new NotSupportedException();
    }

    private sealed class PerDevice : IDeviceGeneratorFactory
    {
        public IImageGenerator Create(ServedDevice device) => new NoGenerator(device.Id);
    }
}
