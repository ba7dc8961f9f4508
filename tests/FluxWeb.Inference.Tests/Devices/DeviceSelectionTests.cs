using FluxWeb.Inference.Devices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FluxWeb.Inference.Tests.Devices;

/// <summary><c>Inference:Devices</c> and <c>Inference:CpuWorkers</c> as read at start: every accepted form, and every refusal with its message.</summary>
public sealed class DeviceSelectionTests
{
    public static TheoryData<string[], DeviceSelectionKind, int[]> Accepted => new()
    {
        { [], DeviceSelectionKind.Configured, [] },
        { [""], DeviceSelectionKind.Configured, [] },
        { ["cpu"], DeviceSelectionKind.Cpu, [] },
        { ["CPU"], DeviceSelectionKind.Cpu, [] },
        { ["all"], DeviceSelectionKind.AllCuda, [] },
        { ["cuda:0"], DeviceSelectionKind.Cuda, [0] },
        { ["cuda:1", "cuda:0"], DeviceSelectionKind.Cuda, [1, 0] },
        { ["cuda:0,cuda:2"], DeviceSelectionKind.Cuda, [0, 2] },
        { [" CUDA:3 , cuda:1 "], DeviceSelectionKind.Cuda, [3, 1] },
    };

    [Theory]
    [MemberData(nameof(Accepted))]
    public void Accepted_forms(string[] devices, DeviceSelectionKind kind, int[] ids)
    {
        var selection = DeviceSelection.Parse(new InferenceOptions { Devices = [.. devices], CpuWorkers = 3 });

        Assert.Equal(kind, selection.Kind);
        Assert.Equal(ids, selection.CudaIds);
        Assert.Equal(3, selection.CpuWorkers);
    }

    [Theory]
    [InlineData("gpu0", "Inference:Devices has 'gpu0', which is not a device: list cuda:0, cuda:1, … (CUDA devices as the driver numbers them), all (every CUDA device) or cpu (with Inference:CpuWorkers for several CPU workers), separated by commas.")]
    [InlineData("cuda:", "Inference:Devices has 'cuda:', which is not a device: list cuda:0")]
    [InlineData("cuda:-1", "Inference:Devices has 'cuda:-1', which is not a device")]
    [InlineData("cuda:0,", "Inference:Devices has an empty entry: list cuda:0")]
    [InlineData("cuda:0,cuda:00", "Inference:Devices lists cuda:0 twice: each device runs one worker; list it once.")]
    [InlineData("cpu,cpu", "Inference:Devices lists cpu twice: list it once, and set Inference:CpuWorkers for several CPU workers.")]
    [InlineData("all,all", "Inference:Devices lists all twice: list it once.")]
    [InlineData("all,cuda:1", "Inference:Devices lists all and cuda:1: all already means every CUDA device the driver reports; list either all or the cuda:N devices you want.")]
    [InlineData("cpu,cuda:0", "Inference:Devices lists cpu together with CUDA devices (cuda:0), which is refused: a CPU worker takes jobs from the same queue at a small fraction of a GPU's speed (a job a GPU finishes in seconds would wait minutes on it), and its threads compete for the cores that feed the GPUs. List the CUDA devices only, or run a separate CPU-only process with Inference:Devices=cpu.")]
    [InlineData("all,cpu", "Inference:Devices lists cpu together with CUDA devices (all), which is refused")]
    public void Refused_forms_say_what_is_wrong_and_how_to_fix_it(string devices, string message)
    {
        var problem = DeviceSelection.Problem(new InferenceOptions { Devices = [devices] });

        Assert.NotNull(problem);
        Assert.StartsWith(message, problem, StringComparison.Ordinal);
        Assert.Equal(message, Assert.Throws<ArgumentException>(() => DeviceSelection.Parse(new InferenceOptions { Devices = [devices] })).Message[..message.Length]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(65)]
    [InlineData(-2)]
    public void Cpu_workers_are_1_to_64(int workers)
    {
        Assert.Equal(
            $"Inference:CpuWorkers is {workers}: it must be between 1 and 64 (how many workers run jobs side by side on the CPU; 1 unless you want several).",
            DeviceSelection.Problem(new InferenceOptions { CpuWorkers = workers }));
        Assert.Null(DeviceSelection.Problem(new InferenceOptions { CpuWorkers = 64 }));
    }

    [Fact]
    public void The_older_settings_may_agree_with_the_list_but_not_contradict_it()
    {
        Assert.Null(DeviceSelection.Problem(new InferenceOptions { Devices = ["cpu"], Device = DevicePreference.Cpu }));
        Assert.Null(DeviceSelection.Problem(new InferenceOptions { Devices = ["all"], Device = DevicePreference.Cuda }));
        Assert.Equal(
            "Inference:Device is Cpu but Inference:Devices lists CUDA devices: set Inference:Devices=cpu, or remove Inference:Device.",
            DeviceSelection.Problem(new InferenceOptions { Devices = ["cuda:0"], Device = DevicePreference.Cpu }));
        Assert.Equal(
            "Inference:Device is Cuda but Inference:Devices is cpu: remove one of them.",
            DeviceSelection.Problem(new InferenceOptions { Devices = ["cpu"], Device = DevicePreference.Cuda }));
        Assert.Equal(
            "Inference:CudaDeviceId is 2 but Inference:Devices is set, which names the devices itself: remove Inference:CudaDeviceId (list cuda:2 in Inference:Devices instead).",
            DeviceSelection.Problem(new InferenceOptions { Devices = ["all"], CudaDeviceId = 2 }));
        // Without the list, CudaDeviceId is the device, as before.
        Assert.Null(DeviceSelection.Problem(new InferenceOptions { CudaDeviceId = 2 }));
    }

    [Theory]
    [InlineData("cuda:0,cuda:1", null)]
    [InlineData(null, "cuda:0|cuda:1")]
    public void The_setting_binds_as_one_comma_separated_value_or_as_a_list(string? value, string? list)
    {
        var settings = new Dictionary<string, string?>();
        if (value is not null)
        {
            settings["Inference:Devices"] = value;
        }

        foreach (var (entry, i) in (list?.Split('|') ?? []).Select((e, i) => (e, i)))
        {
            settings[$"Inference:Devices:{i}"] = entry;
        }

        var options = Bind(settings);

        Assert.Equal([0, 1], DeviceSelection.Parse(options.Value).CudaIds);
    }

    [Fact]
    public void A_refused_setting_stops_the_options_with_its_own_message()
    {
        var options = Bind(new Dictionary<string, string?> { ["Inference:Devices"] = "cuda:0,cuda:0" });

        var error = Assert.Throws<OptionsValidationException>(() => options.Value);
        Assert.Contains("Inference:Devices lists cuda:0 twice: each device runs one worker; list it once.", error.Failures);
    }

    private static IOptions<InferenceOptions> Bind(Dictionary<string, string?> settings)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddLogging();
        services.AddInference();
        return services.BuildServiceProvider().GetRequiredService<IOptions<InferenceOptions>>();
    }
}
